"""What every domain module shares about talking to the database: the write transaction, reads
that end before slow work, and INSERT ... ON CONFLICT DO NOTHING on both backends.

A request has one session. Reads run outside any transaction (each statement sees its own
snapshot; PostgreSQL's engine is in autocommit mode and SQLite's sends no BEGIN for them), so a
read costs no BEGIN/ROLLBACK round trips and never holds a lock. A write asks for its transaction
with ``writing(session)``: ``BEGIN IMMEDIATE`` on SQLite (the write lock up front, so a
read-then-write cannot fail with "database is locked"), READ COMMITTED on PostgreSQL; it commits
when the block ends and rolls back when it raises. Nothing depends on the HTTP method.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import ColumnElement, Executable, Table, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.models import Base

# An execution option the SQLite engine's "begin" hook reads (app.infra.database): BEGIN IMMEDIATE, not BEGIN.
WRITE_OPTION = "conduit_write"


@asynccontextmanager
async def writing(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """One write transaction: committed when the block ends, rolled back if it raises."""
    await end_reading(session)
    options: dict[str, Any] = {WRITE_OPTION: True}
    if dialect_of(session) == "postgresql":  # the engine's default is autocommit, for reads
        options["isolation_level"] = "READ COMMITTED"
    await session.connection(execution_options=options)
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


async def read(session: AsyncSession, statement: Executable, params: dict[str, Any] | None = None
               ) -> Sequence[Any]:
    """Every row of one read statement. Where the session already holds a connection (inside a
    write, or after an ORM read) it runs there, so a request never holds two at once; otherwise on
    a pooled connection of the session's engine, borrowed for this statement alone: a request
    holds a connection only while the database works for it (not while it renders), and skips the
    ORM session's bookkeeping, which a statement of plain columns does not need."""
    if session.in_transaction():
        return (await session.execute(statement, params)).all()
    engine: AsyncEngine = session.bind  # type: ignore[assignment]
    async with engine.connect() as connection:
        return (await connection.execute(statement, params)).all()


async def end_reading(session: AsyncSession) -> None:
    """Give back the connection that reads were using, if any: before a write begins its own
    transaction, and before slow CPU work (a password hash), so no pooled connection is held
    meanwhile. (A commit, not a rollback: with nothing written it costs the same and, unlike a
    rollback, leaves loaded objects usable.)"""
    if session.in_transaction():
        await session.commit()


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert_for(session: AsyncSession, target: type[Base] | Table) -> Any:
    """The backend's own INSERT, which has ``on_conflict_do_nothing()``."""
    module: Any = postgresql if dialect_of(session) == "postgresql" else sqlite
    return module.insert(target)


async def insert_ignore(session: AsyncSession, target: type[Base] | Table, **values: Any) -> bool:
    """INSERT a row unless its key exists; atomic on both backends. True when a row was added."""
    result: Any = await session.execute(insert_for(session, target).values(**values)
                                        .on_conflict_do_nothing())
    return bool(result.rowcount)


def has_row(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """A row matches: for a flag per listed row (favorited, following), one primary-key look-up
    each. A subquery with LIMIT, which PostgreSQL runs per row as written, where an EXISTS may be
    planned as a hash of every row the viewer has (thousands of follows, for one page)."""
    return select(literal(1)).where(*conditions).limit(1).scalar_subquery().is_not(None)
