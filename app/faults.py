"""Which errors are faults of the database or Redis ("not now": answered 503 with Retry-After)
rather than of this code or its input ("not this": a 4xx, or a logged 500).

Matched narrowly, by what the driver reports, so that a programming mistake (a syntax error, a
missing table, a bad parameter) is never hidden behind a "try again later".
"""

from __future__ import annotations

from types import TracebackType

from redis.exceptions import BusyLoadingError, MaxConnectionsError, OutOfMemoryError, ReadOnlyError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

REDIS_FAULTS = (RedisConnectionError, RedisTimeoutError, BusyLoadingError, ReadOnlyError,
                OutOfMemoryError, MaxConnectionsError)
# PostgreSQL's SQLSTATE classes of "not now": connection exceptions, a read-only transaction,
# insufficient resources (disk full, out of memory, too many connections), operator intervention
# (statement timeout, shutdown, starting up) and system (I/O) errors.
POSTGRES_FAULTS = ("08", "25006", "53", "57", "58")
# SQLite's primary result codes of "not now": BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN.
SQLITE_FAULTS = frozenset({5, 6, 7, 8, 10, 13, 14})
# Where an OSError or a timeout comes from the database's or Redis's client, not from the app.
CLIENT_MODULES = ("sqlalchemy.", "asyncpg.", "aiosqlite.", "redis.", "limits.")


def unavailable(error: BaseException) -> str | None:
    """"database" or "redis" when ``error`` says that one cannot serve just now: a timeout
    (connect, statement, pool checkout, SQLite's write lock), a refused, unreachable or dropped
    connection, a full disk, a read-only database. None for anything else."""
    if isinstance(error, REDIS_FAULTS):
        return "redis"
    if isinstance(error, PoolTimeout):
        return "database"
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return "database"
        code = getattr(error.orig, "sqlite_errorcode", None)
        if isinstance(code, int):
            return "database" if code & 0xFF in SQLITE_FAULTS else None
        return "database" if sqlstate(error).startswith(POSTGRES_FAULTS) else None
    if isinstance(error, OSError | TimeoutError):  # connecting: refused, no route, no such socket
        module = _raised_in(error.__traceback__)
        if module is not None:
            return "redis" if module.startswith(("redis.", "limits.")) else "database"
    return None


def sqlstate(error: DBAPIError) -> str:
    """PostgreSQL's SQLSTATE for an error asyncpg raised (SQLAlchemy wraps most of them in a plain
    DBAPIError); "" for anything else."""
    for candidate in (error.orig, getattr(error.orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None)
        if isinstance(code, str):
            return code
    return ""


def _raised_in(trace: TracebackType | None) -> str | None:
    """The innermost database or Redis client module the error passed through, if any."""
    found = None
    while trace is not None:
        module = str(trace.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(CLIENT_MODULES):
            found = module
        trace = trace.tb_next
    return found
