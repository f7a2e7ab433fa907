"""Helpers shared by tests: query counting, bulk users; servers and scratch PostgreSQL databases
come from ``tests.support.servers`` (the benchmarks start theirs the same way)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from typing import Any

from quart import Quart
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.domain.counters import recount
from app.domain.live import NOTIFY
from app.infra.database import make_engine
from app.models import User


@contextmanager
def count_queries(engine: AsyncEngine) -> Iterator[list[str]]:
    """Collect every SQL statement the engine sends while the block runs."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def add_users(session: AsyncSession, count: int, password_hash: str,
                    prefix: str = "user") -> list[int]:
    """Many users at once, sharing one precomputed hash (seconds saved; hashing is tested apart)."""
    people = [User(username=f"{prefix}{i}", email=f"{prefix}{i}@example.test",
                   password_hash=password_hash) for i in range(count)]
    session.add_all(people)
    await session.commit()
    await recounted(session)
    return [person.id for person in people]


async def recounted(session: AsyncSession) -> None:
    """After rows written directly (as a bulk import would), the counters made right again."""
    await recount(session.bind)  # type: ignore[arg-type]


@asynccontextmanager
async def patient_sessions(app: Quart) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on an engine of their own, like the app's (5 connections) but waiting up to a
    minute for one: a test that queues hundreds of writers on five connections proves that none
    is lost or refused, not how fast this machine is at the moment."""
    settings = replace(app.config["CONDUIT"], db_timeout=60)
    engine = make_engine(settings)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False, info={NOTIFY: not settings.redis_url})
    finally:
        await engine.dispose()
