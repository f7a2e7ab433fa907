"""The async database layer: one engine per app (made in ``before_serving``), one session per request.

The engine lives on the app, never on ``g``: Quart resets ``g`` after ``before_serving``, and each
Hypercorn worker runs ``before_serving`` in its own process, so each worker owns its pool.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from quart import Quart, current_app, g
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.domain.live import NOTIFY
from app.domain.transactions import WRITE_OPTION
from app.infra.outages import count_connect_failures_as_disconnects
from app.infra.settings import Settings
from app.observe.pool import ObservedPool
from app.observe.statements import time_statements

EXTENSION_KEY = "conduit.db"


COMMAND_WAIT_S = 60  # migrations and CLI commands: no statement limit, a longer lock wait


def make_engine(settings: Settings, *, serving: bool = True) -> AsyncEngine:
    """An engine for either backend. SQLite gets the settings that keep concurrent writers safe.
    ``serving=False`` (migrations, CLI commands): statements may take as long as they need (an
    index build), and waits for a lock or a pooled connection are longer."""
    wait = settings.db_timeout if serving else max(settings.db_timeout, COMMAND_WAIT_S)
    if not settings.is_sqlite:
        # A fixed pool: connections made once and kept (overflow ones would be opened and closed
        # again under load). A connection that sat idle in the pool for CONDUIT_DB_PING_IDLE
        # seconds is pinged before use (one round trip): one the server dropped meanwhile
        # (pg_terminate_backend, a restart, a proxy's idle timeout) is replaced there, before a
        # user's statement meets it. Without the ping, each dead connection failed one request (a
        # 503), in each worker, however long afterwards; pinging every checkout instead cost
        # 0.5-0.8 ms of CPU a request under load, where connections are never idle that long.
        # Autocommit by default: a read sends no BEGIN and no ROLLBACK; a write's transaction is
        # asked for by app.domain.transactions.writing.
        # Timeouts (CONDUIT_DB_TIMEOUT): to connect, for a pooled connection, and for a statement,
        # which the server cancels itself (statement_timeout; the connection stays usable) and,
        # should the server not answer at all (stopped, unreachable), the client gives up on a
        # second later. app/errors.py answers all of them 503.
        timeout = settings.db_timeout
        # A transaction left idle that long (a worker stalled mid-write) is ended by the server:
        # it may hold the live events' numbering lock, which every writer waits for.
        bounded: dict[str, Any] = {"command_timeout": timeout + 1, "server_settings": {
            "statement_timeout": str(timeout * 1000),
            "idle_in_transaction_session_timeout": str(timeout * 1000)}} if serving else {}
        postgres = create_async_engine(
            settings.database_url,
            poolclass=ObservedPool,
            pool_size=settings.pool_size,
            max_overflow=0,
            pool_timeout=wait,
            isolation_level="AUTOCOMMIT",
            connect_args={"timeout": timeout, **bounded},
        )
        # A connection that cannot be made or pinged, whatever the server's reason, is a 503.
        event.listen(postgres.sync_engine, "handle_error", count_connect_failures_as_disconnects)
        ping_idle_connections(postgres, settings.db_ping_idle)
        return postgres

    database = settings.url.database
    if database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        settings.database_url,
        # isolation_level=None hands transaction control to the "begin" hook below; the
        # driver's implicit deferred BEGIN loses updates under concurrent read-modify-write.
        # "timeout": how long a statement waits for another connection's write lock.
        connect_args={"isolation_level": None, "timeout": wait},
        poolclass=ObservedPool,
        pool_size=settings.pool_size,
        max_overflow=0,
        pool_timeout=wait,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={wait * 1000}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        # A write transaction (app.domain.transactions.writing) takes the write lock up front: a deferred
        # one that reads and then writes cannot wait for the lock ("database is locked" at once).
        # Reads send no BEGIN: each statement is its own transaction, and under WAL it blocks
        # nobody (and costs no extra trip to aiosqlite's thread).
        if conn.get_execution_options().get(WRITE_OPTION, False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def ping_idle_connections(engine: AsyncEngine, idle_s: float) -> None:
    """Ping a pooled connection before use when it has been idle ``idle_s`` seconds; a dead one
    is thrown away and the pool hands out another (SQLAlchemy's pessimistic disconnect
    handling, as pool_pre_ping, but only where a connection had time to die)."""
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_s:
            return  # just made, or in use a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure: the connection is not to be used
            raise DisconnectionError("a pooled connection died while idle") from error


class Database:
    """Flask-style extension: created once, bound to each app with ``init_app``."""

    def init_app(self, app: Quart, settings: Settings) -> None:
        app.extensions[EXTENSION_KEY] = self
        self.settings = settings
        self.engine: AsyncEngine | None = None
        self.sessionmaker: async_sessionmaker[AsyncSession] | None = None

        @app.before_serving
        async def _open_engine() -> None:
            self.open()

        @app.after_serving
        async def _dispose_engine() -> None:
            await self.close()

        @app.teardown_appcontext
        async def _close_session(_exc: BaseException | None) -> None:
            session: AsyncSession | None = g.pop("db", None)
            if session is not None:
                # close() rolls back whatever the request left uncommitted.
                await session.close()

    def open(self) -> None:
        if self.engine is None:
            self.engine = make_engine(self.settings)
            time_statements(self.engine)
            # expire_on_commit=False: reading an attribute after commit must not lazy-load
            # (that raises MissingGreenlet under asyncio).
            # With Redis as the live events' doorbell, writers need not NOTIFY (app.domain.live).
            self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False,
                                                   info={NOTIFY: not self.settings.redis_url})

    def opened_engine(self) -> AsyncEngine:
        """The engine, once ``before_serving`` has opened it."""
        if self.engine is None:
            raise RuntimeError("the database engine is not open (before_serving has not run)")
        return self.engine

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()
        self.engine = None
        self.sessionmaker = None


def get_database(app: Quart | None = None) -> Database:
    database: Database = (app or current_app).extensions[EXTENSION_KEY]
    return database


def get_db() -> AsyncSession:
    """The request's one session, made on first use and closed in teardown. Reads need nothing
    more; a domain write opens its own transaction in it (``app.domain.transactions.writing``)."""
    if "db" not in g:
        maker = get_database().sessionmaker
        if maker is None:
            raise RuntimeError("the database is not open: is the app serving (before_serving)?")
        g.db = maker()
    session: AsyncSession = g.db
    return session


async def release_db() -> None:
    """Close the request's session now rather than in teardown: a live socket, which lives long,
    holds no session (and no pooled connection) once its handshake is checked."""
    session: AsyncSession | None = g.pop("db", None)
    if session is not None:
        await session.close()
