"""A database that refuses connections, kills the app's connections or holds a lock: 503 with
Retry-After on both faces (never a 500), pooled connections the server killed never reach a user,
and /readyz blames migrations only when the table is really missing.

PostgreSQL: a database of the test's own on the shared server (``ALTER DATABASE ...
ALLOW_CONNECTIONS false``, ``pg_terminate_backend`` of its connections only). SQLite: a file of
the test's own, locked by another connection, or that cannot be opened."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from app import create_app
from app.infra import health
from app.infra.migrations import upgrade
from tests.support.broken_databases import OwnDatabase, assert_unavailable, own_pg_database, served

DB_TIMEOUT_S = 2
ARTICLE = {"title": "Before", "description": "d", "body": "b", "tagList": ["faults"]}
LOGIN = {"user": {"email": "k@example.test", "password": "password123"}}
# More than the pool holds (5), so that every pooled connection is met at least once.
READS = ["/api/articles", "/api/tags", "/", "/article/before"] * 3


def _sign_up(http: httpx.Client) -> str:
    answer = http.post("/api/users", json={"user": {"username": "keeper", **LOGIN["user"]}})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["user"]["token"])


def _write(http: httpx.Client, token: str, title: str) -> httpx.Response:
    return http.post("/api/articles", headers={"Authorization": f"Token {token}"},
                     json={"article": {**ARTICLE, "title": title}})


def _readyz(http: httpx.Client) -> str:
    answer = http.get("/readyz")
    assert answer.status_code == 503, answer.text
    return str(answer.json()["reason"])


def _eventually_ok(http: httpx.Client, path: str) -> None:
    """Recovery without a restart: the first answers after the fault may still be 503s."""
    for _ in range(50):
        answer = http.get(path)
        if answer.status_code == 200:
            return
        assert answer.status_code == 503, answer.text
    raise AssertionError(f"{path} never recovered")


@pytest.mark.backend("postgresql")
def test_postgresql_refusing_connections_is_503_and_killed_connections_never_reach_users(
        tmp_path: Path) -> None:
    with own_pg_database() as database:
        upgrade(database.url)
        # Every pooled connection pinged before use, however briefly idle (the default waits a
        # second of idleness; here the connections are killed a moment after their last use).
        with served(database.url, tmp_path / "serve.log", db_timeout=DB_TIMEOUT_S,
                    settings={"CONDUIT_DB_PING_IDLE": "0"}) as http:
            token = _sign_up(http)
            assert _write(http, token, "Before").status_code == 201
            with ThreadPoolExecutor(len(READS)) as pool:  # every pooled connection opened
                assert {a.status_code for a in pool.map(http.get, READS)} == {200}

            # The server kills the idle pooled connections (a restart, a failover, an operator):
            # before, the next request of each worker met a dead one and answered 503.
            asyncio.run(database.terminate_connections())
            for path in READS:
                answer = http.get(path)
                assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
            assert http.post("/api/users/login", json=LOGIN).status_code == 200
            assert http.get("/readyz").status_code == 200

            # The database refuses connections (SQLSTATE 55000) and has killed the app's: before,
            # every request answered 500 without Retry-After.
            asyncio.run(database.allow_connections(False))
            try:
                asyncio.run(database.terminate_connections())
                for _ in range(3):
                    reason = _readyz(http)
                    assert reason.startswith("database unavailable") and "migrat" not in reason
                for path in READS:
                    assert_unavailable(http.get(path), DB_TIMEOUT_S)
                assert_unavailable(http.post("/api/users/login", json=LOGIN), DB_TIMEOUT_S)
                assert_unavailable(http.get("/api/user", headers={"Authorization": f"Token {token}"}),
                                   DB_TIMEOUT_S)
                assert_unavailable(_write(http, token, "Refused"), DB_TIMEOUT_S)
            finally:
                asyncio.run(database.allow_connections(True))
            _eventually_ok(http, "/api/articles")
            assert _write(http, token, "After").status_code == 201
            titles = {a["title"] for a in http.get("/api/articles").json()["articles"]}
            assert titles == {"Before", "After"}


@pytest.mark.backend("postgresql")
def test_readyz_says_unavailable_when_its_query_is_cut_off_postgresql() -> None:
    """The version query is under way when the database kills its connection (it waits for a
    lock, so that it is surely in flight): "database unavailable", not "not migrated" (before:
    "not migrated", because the lost query's error quotes its SQL, which names alembic_version)."""
    with own_pg_database() as database:
        upgrade(database.url)
        asyncio.run(_readyz_cut_off(database))


async def _readyz_cut_off(database: OwnDatabase) -> None:
    app = create_app({"env": "testing", "database_url": database.url, "db_timeout": 60})
    holder = await asyncpg.connect(database.dsn)
    try:
        async with app.test_app():
            client = app.test_client()
            async with holder.transaction():
                await holder.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
                ready = asyncio.create_task(_patient_readyz(client))
                while not await database.waiting_for_a_lock():
                    assert not ready.done(), await ready
                    await asyncio.sleep(0.02)
                await database.allow_connections(False)
                await database.terminate_connections(sparing=holder.get_server_pid())
                status, body = await ready
            await database.allow_connections(True)
            assert status == 503
            assert body["reason"].startswith("database unavailable"), body
    finally:
        await database.allow_connections(True)
        await holder.close()


async def _patient_readyz(client: object) -> tuple[int, dict[str, str]]:
    """/readyz with its own time limit lifted (it gives up after 2 s; the lock wait must not
    race it on a busy machine)."""
    saved, health.READY_TIMEOUT_S = health.READY_TIMEOUT_S, 120.0
    try:
        answer = await client.get("/readyz")  # type: ignore[attr-defined]
        return answer.status_code, await answer.get_json()
    finally:
        health.READY_TIMEOUT_S = saved


@contextmanager
def _locked(database: Path) -> Iterator[Callable[[], None]]:
    """Another connection holds the database's only lock: no one else may read or write, until
    the function yielded (or the end of the block) lets go of it."""
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE held (n INTEGER)")  # a write: the exclusive lock is taken
    try:
        yield holder.close  # closing rolls back, and lets go of the lock
    finally:
        holder.close()


@pytest.mark.backend("sqlite")
def test_sqlite_locked_or_unopenable_is_503_on_both_faces_and_recovers(tmp_path: Path) -> None:
    database = tmp_path / "conduit.db"
    upgrade(f"sqlite+aiosqlite:///{database}")
    # Locked before the server opens a connection of its own (an exclusive lock in WAL mode
    # waits for every other connection to close): SQLITE_BUSY once the busy timeout has passed.
    with _locked(database) as unlock, served(f"sqlite+aiosqlite:///{database}",
                                             tmp_path / "serve.log", db_timeout=1) as http:
        assert "migrat" not in _readyz(http)
        for path in ("/api/articles", "/"):
            assert_unavailable(http.get(path), 1)
        assert_unavailable(http.post("/api/users/login", json=LOGIN), 1)
        unlock()
        token = _sign_up(http)
        assert _write(http, token, "Before").status_code == 201
        for path in READS:
            assert http.get(path).status_code == 200, path
    # A database file that cannot be opened (here: a folder stands where the file should be).
    unopenable = tmp_path / "not-a-file.db"
    unopenable.mkdir()
    with served(f"sqlite+aiosqlite:///{unopenable}", tmp_path / "serve2.log",
                db_timeout=1) as http:
        reason = _readyz(http)
        assert reason.startswith("database unavailable"), reason
        for path in ("/api/articles", "/"):
            assert_unavailable(http.get(path), 1)
        assert_unavailable(http.post("/api/users/login", json=LOGIN), 1)


@pytest.mark.backend("sqlite")
def test_readyz_says_unavailable_when_sqlite_is_locked(tmp_path: Path) -> None:
    """A locked SQLite is "database unavailable" too (before: "database does not answer"; the
    lock is met while connecting, so no SQL was quoted and it was not blamed on migrations)."""
    database = tmp_path / "conduit.db"
    upgrade(f"sqlite+aiosqlite:///{database}")

    async def readyz() -> tuple[int, dict[str, str]]:
        app = create_app({"env": "testing", "database_url": f"sqlite+aiosqlite:///{database}",
                          "db_timeout": 1})
        async with app.test_app():
            return await _patient_readyz(app.test_client())

    with _locked(database):
        status, body = asyncio.run(readyz())
    assert status == 503
    assert body["reason"] == "database unavailable (OperationalError)", body
