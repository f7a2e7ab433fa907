"""Where the rate limits' counters live: the app's database (``rate_limits``, the default: every
worker of a host shares it) or Redis (``CONDUIT_REDIS_URL``: several hosts). See app.infra.rate_limiter."""

from __future__ import annotations

import time
from typing import Any, cast

from limits.aio.storage import RedisStorage, Storage
from redis.asyncio import ConnectionPool
from sqlalchemy import Table, bindparam, case, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.infra.settings import Settings
from app.models import RateLimitCounter

REDIS_TIMEOUT_S = 3.0


class DatabaseStorage(Storage):
    """A ``limits`` storage in the app's own database: one row per counter (``rate_limits``)."""

    STORAGE_SCHEME = ["conduit+database"]
    PURGE_EVERY = 1000  # increments between deletions of windows that have ended

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__()
        self.engine = engine
        self._increments = 0
        table = cast(Table, RateLimitCounter.__table__)
        insert = sqlite_insert if engine.dialect.name == "sqlite" else pg_insert
        new = insert(table).values(key=bindparam("key"), hits=bindparam("amount"),
                                   expires_at=bindparam("ends"))
        ended = table.c.expires_at <= bindparam("now")
        self._incr = new.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"hits": case((ended, new.excluded.hits), else_=table.c.hits + new.excluded.hits),
                  "expires_at": case((ended, new.excluded.expires_at), else_=table.c.expires_at)},
        ).returning(table.c.hits)
        self._row = select(table.c.hits, table.c.expires_at).where(table.c.key == bindparam("key"))
        self._table = table

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        async with self.engine.connect() as conn:
            hits = (await conn.execute(self._incr, {"key": key, "amount": amount, "now": now,
                                                    "ends": now + expiry})).scalar_one()
            self._increments += 1
            if self._increments % self.PURGE_EVERY == 0:
                await conn.execute(delete(self._table).where(self._table.c.expires_at < now))
            await conn.commit()
        return int(hits)

    async def _window(self, key: str) -> tuple[int, float]:
        now = time.time()
        async with self.engine.connect() as conn:
            row = (await conn.execute(self._row, {"key": key})).first()
        if row is None or row.expires_at <= now:
            return 0, now
        return int(row.hits), float(row.expires_at)

    async def get(self, key: str) -> int:
        return (await self._window(key))[0]

    async def get_expiry(self, key: str) -> float:
        return (await self._window(key))[1]

    async def check(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def reset(self) -> int | None:
        async with self.engine.connect() as conn:
            result = await conn.execute(delete(self._table))
            await conn.commit()
        return int(result.rowcount)

    async def clear(self, key: str) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(delete(self._table).where(self._table.c.key == key))
            await conn.commit()


def redis_pool(settings: Settings) -> ConnectionPool:
    """redis-py's pool for ``CONDUIT_REDIS_URL``: an unreachable or frozen Redis fails a command
    within seconds (then the request is answered 503) instead of holding it."""
    return ConnectionPool.from_url(settings.redis_url, socket_timeout=REDIS_TIMEOUT_S,
                                   socket_connect_timeout=REDIS_TIMEOUT_S)


def redis_storage(settings: Settings, pool: ConnectionPool) -> RedisStorage:
    url = settings.redis_url
    url = "redis+" + url if url.startswith("unix:") else url
    options: dict[str, Any] = {"connection_pool": pool}  # typed as str | float | bool upstream
    return RedisStorage(f"async+{url}", implementation="redispy",
                        key_prefix=f"{settings.redis_prefix}:limits", **options)
