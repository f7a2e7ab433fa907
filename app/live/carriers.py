"""The doorbells that tell a worker's hub the event log has something new (app/live/hub.py).

Each keeps its connection up: when the server goes away it logs one line, waits a second and
connects again, and rings once it is back (events may have come meanwhile). The hub also looks on
its own every second, so nothing waits on a doorbell being right.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.domain.live import CHANNEL
from app.infra.settings import Settings

log = logging.getLogger("conduit.live")

RECONNECT_S = 1.0
CHECK_S = 5.0  # how often an idle LISTEN connection is checked (a frozen server is noticed)
PUBLISH_TIMEOUT_S = 3.0


def postgresql_dsn(settings: Settings) -> str:
    return settings.url.set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_postgresql(settings: Settings, ring: Callable[..., None]) -> None:
    """LISTEN on the writers' NOTIFY channel, on a connection of its own (a pooled one cannot
    listen: it goes back to the pool)."""
    while True:
        connection: Any = None
        try:
            connection = await asyncpg.connect(postgresql_dsn(settings), timeout=settings.db_timeout)
            await connection.add_listener(CHANNEL, ring)
            ring()
            while not connection.is_closed():
                await asyncio.sleep(CHECK_S)
                await connection.execute("SELECT 1", timeout=settings.db_timeout)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("live: LISTEN connection to PostgreSQL lost (%s); reconnecting", error)
        except Exception:  # a mistake: said loudly, and tried again (the hub polls meanwhile)
            log.exception("live: LISTEN failed; trying again")
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    connection.terminate()
        await asyncio.sleep(RECONNECT_S)


def redis_client(settings: Settings) -> Redis:
    """A client of its own: a subscribed connection waits for messages as long as it takes, so
    it has no read timeout (the rate limiter's pool has one)."""
    return Redis.from_url(settings.redis_url, socket_connect_timeout=PUBLISH_TIMEOUT_S,
                          health_check_interval=CHECK_S)


async def publish(client: Redis, channel: str, seq: int) -> None:
    try:
        await asyncio.wait_for(client.publish(channel, str(seq)), PUBLISH_TIMEOUT_S)
    except (RedisError, OSError, TimeoutError) as error:  # the others look on their own anyway
        log.warning("live: cannot publish to Redis (%s)", error)


async def listen_redis(client: Redis, channel: str, ring: Callable[..., None]) -> None:
    while True:
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(channel)
                ring()
                while True:
                    if await pubsub.get_message(ignore_subscribe_messages=True, timeout=CHECK_S):
                        ring()
        except (RedisError, OSError, TimeoutError) as error:
            log.warning("live: Redis subscription lost (%s); reconnecting", error)
        except Exception:  # a mistake: said loudly, and tried again (the hub polls meanwhile)
            log.exception("live: the Redis subscription failed; trying again")
        await asyncio.sleep(RECONNECT_S)
