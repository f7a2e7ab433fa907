"""Which errors are faults of the database or Redis ("not now": answered 503 with Retry-After)
rather than of this code or its input ("not this": a 4xx, or a logged 500).

By class of cause, each matched by what the driver reports, so that a programming mistake (a
syntax error, a missing table, a bad parameter) is never hidden behind a "try again later":

- cannot connect: whatever the server's reason for refusing a new connection (not accepting
  connections, starting up, shutting down, too many clients), or no server there at all; a wrong
  password or database name is the deployment's mistake, not a passing fault;
- connection lost: the server closed or terminated it (SQLAlchemy says "invalidated");
- server shutting down, or an operator's intervention: SQLSTATE class 57;
- read-only (a standby after a failover, ``default_transaction_read_only``): 25006;
- too many connections, out of memory or disk: class 53; no pooled connection within the timeout
  (with admission control in front, app/serving/admission.py, the queue for the pool is bounded,
  and a connection held that long is one a slow or frozen database keeps);
- timeouts: statement timeout (57014), a lock not available (55P03), connect and client timeouts.

Apart from those, ``busy``: the app's own capacity, not the database's (too many password hashes
waiting): answered 503 "server is busy" with Retry-After 1.
"""

from __future__ import annotations

from types import TracebackType

from redis.exceptions import BusyLoadingError, MaxConnectionsError, OutOfMemoryError, ReadOnlyError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.domain.errors import Busy

REDIS_FAULTS = (RedisConnectionError, RedisTimeoutError, BusyLoadingError, ReadOnlyError,
                OutOfMemoryError, MaxConnectionsError)
# PostgreSQL's SQLSTATE classes of "not now": connection exceptions, a read-only transaction,
# insufficient resources (disk full, out of memory, too many connections), operator intervention
# (statement timeout, shutdown, starting up) and system (I/O) errors.
POSTGRES_FAULTS = ("08", "25006", "53", "55P03", "57", "58")
# Refusals at connect time that a retry will not cure: invalid authorization (a wrong password or
# role), an unknown database. Everything else the server says while refusing a connection
# (55000 "not currently accepting connections", 57P03 "starting up", 53300 "too many clients")
# is "not now".
CONNECT_MISTAKES = ("28", "3D")
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


def busy(error: BaseException) -> bool:
    """The app's own capacity is used up: too many password hashes are waiting."""
    return isinstance(error, Busy)


def count_connect_failures_as_disconnects(context: ExceptionContext) -> None:
    """SQLAlchemy's ``handle_error`` hook (app.infra.database, PostgreSQL): an error raised while a connection
    was being made or checked (``context.connection`` is None: the connect itself, or the pool's
    pre-ping) means this request has no usable connection, whatever the SQLSTATE. Said as a
    disconnect, it is answered 503 (``unavailable``) and a failed pre-ping makes the pool open a
    fresh connection rather than raise. A wrong password or database name stays a mistake."""
    error = context.sqlalchemy_exception
    if context.connection is not None or context.is_disconnect or not isinstance(error, DBAPIError):
        return
    if not sqlstate(error).startswith(CONNECT_MISTAKES):
        context.is_disconnect = True


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
