"""Small SQL helpers the domain modules share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Base


async def insert_ignore(session: AsyncSession, target: type[Base] | Table, **values: Any) -> bool:
    """INSERT a row unless its key exists; atomic on both backends. True when a row was added."""
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(target).values(**values).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(target).values(**values).on_conflict_do_nothing()
    result: Any = await session.execute(stmt)
    return bool(result.rowcount)
