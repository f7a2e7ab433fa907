"""A database that freezes, goes down, fills its disk or turns read-only is answered 503 with
Retry-After (JSON under /api, a page on the site) within the database timeout, never a hang or a
500; /readyz says why; everything works again once the database does, with no restart.

Each test breaks a database of its own (a private PostgreSQL cluster, SQLite on a private tmpfs)
served by a real conduit-serve, and runs in its backend's pass of ``make test``."""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from app import create_app
from app.infra.migrations import upgrade
from tests.support.broken_databases import (
    Cluster,
    assert_unavailable,
    fill,
    private_cluster,
    read_only_view,
    served,
    tiny_tmpfs,
)

DB_TIMEOUT_S = 2
ARTICLE = {"title": "Kept", "description": "d", "body": "b", "tagList": ["faults"]}


@pytest.fixture
def serve(tmp_path: Path) -> Callable[[str], Iterator[httpx.Client]]:
    def start(url: str, migrate: bool = True) -> Iterator[httpx.Client]:
        if migrate:
            upgrade(url)
        with served(url, tmp_path / "serve.log", db_timeout=DB_TIMEOUT_S) as http:
            yield http
    return start


def _token(http: httpx.Client) -> str:
    answer = http.post("/api/users", json={"user": {"username": "keeper", "email": "k@example.test",
                                                    "password": "password123"}})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["user"]["token"])


def _write(http: httpx.Client, token: str, title: str, body: str = "b") -> httpx.Response:
    return http.post("/api/articles", headers={"Authorization": f"Token {token}"},
                     json={"article": {**ARTICLE, "title": title, "body": body}})


def _assert_unavailable(answer: httpx.Response) -> None:
    assert_unavailable(answer, DB_TIMEOUT_S)


def _not_ready(http: httpx.Client, reason: str) -> None:
    answer = http.get("/readyz")
    assert answer.status_code == 503 and reason in answer.json()["reason"], answer.text


def _eventually_ok(http: httpx.Client, path: str) -> httpx.Response:
    """Recovery without a restart: the first answers after the fault may still be 503s."""
    for _ in range(50):
        answer = http.get(path)
        if answer.status_code == 200:
            return answer
        assert answer.status_code == 503, answer.text
    raise AssertionError(f"{path} never recovered")


@pytest.mark.backend("postgresql")
def test_postgresql_frozen_down_or_read_only_is_503_and_recovers(serve: Callable[..., Iterator[
        httpx.Client]]) -> None:
    with private_cluster() as cluster:
        for http in serve(cluster.url):
            token = _token(http)
            assert _write(http, token, "Before").status_code == 201
            _frozen(cluster, http, token)
            _down(cluster, http, token)
            _read_only(cluster, http, token)
            titles = {a["title"] for a in http.get("/api/articles").json()["articles"]}
            assert titles == {"Before", "While up", "After the freeze", "Writable again"}


def _frozen(cluster: Cluster, http: httpx.Client, token: str) -> None:
    """SIGSTOP: before, requests got no answer for 30-100 s, then 500."""
    cluster.signal_all(signal.SIGSTOP)
    try:
        paths = ["/api/articles"] * 12 + ["/", "/article/before", "/api/tags"] * 3
        with ThreadPoolExecutor(len(paths) + 3) as pool:
            answers = list(pool.map(http.get, paths))
            logins = list(pool.map(lambda _: http.post("/api/users/login", json={"user": {
                "email": "k@example.test", "password": "password123"}}), range(3)))
        for answer in answers + logins:
            _assert_unavailable(answer)
        _not_ready(http, "did not answer in time")
    finally:
        cluster.signal_all(signal.SIGCONT)
    _eventually_ok(http, "/api/articles")
    assert _write(http, token, "After the freeze").status_code == 201


def _down(cluster: Cluster, http: httpx.Client, token: str) -> None:
    """Shut down: before, 500."""
    cluster.stop()
    try:
        _assert_unavailable(http.get("/api/articles"))
        _assert_unavailable(http.get("/"))
        _assert_unavailable(_write(http, token, "Lost?"))
        _not_ready(http, "database unavailable")
    finally:
        cluster.start()
    _eventually_ok(http, "/api/articles")
    assert _write(http, token, "While up").status_code == 201


def _read_only(cluster: Cluster, http: httpx.Client, token: str) -> None:
    cluster.psql("ALTER SYSTEM SET default_transaction_read_only = on")
    cluster.psql("SELECT pg_reload_conf()")
    try:
        _assert_unavailable(_write(http, token, "Refused"))
        _not_ready(http, "database is read-only")
    finally:
        cluster.psql("SET default_transaction_read_only = off", "ALTER SYSTEM RESET ALL")
        cluster.psql("SELECT pg_reload_conf()")
    assert _eventually_ok(http, "/readyz").json()["status"] == "ready"
    assert _write(http, token, "Writable again").status_code == 201


@pytest.mark.backend("sqlite")
def test_sqlite_full_read_only_or_locked_is_503_and_recovers(serve: Callable[..., Iterator[
        httpx.Client]]) -> None:
    with tiny_tmpfs() as folder:
        database = folder / "conduit.db"
        for http in serve(f"sqlite+aiosqlite:///{database}"):
            token = _token(http)
            assert _write(http, token, "Before").status_code == 201
            # A full disk: before, the write answered 500 and /readyz said ready.
            filler = fill(folder)
            _not_ready(http, "disk is full")
            # SQLite may still fit a write or two in its WAL file's spare pages; not more.
            answers = [_write(http, token, f"Big {n}", body="x" * 90_000) for n in range(8)]
            kept = [a.json()["article"]["title"] for a in answers if a.status_code == 201]
            assert len(kept) < 8
            for answer in answers[len(kept):]:
                _assert_unavailable(answer)
            assert http.get("/api/articles").status_code == 200  # reading goes on
            filler.unlink()
            assert http.get("/readyz").status_code == 200
            assert _write(http, token, "Space again", body="x" * 90_000).status_code == 201
            # Another process holds the write lock past the timeout.
            holder = sqlite3.connect(database, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            try:
                _assert_unavailable(_write(http, token, "Waited"))
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            assert _write(http, token, "Unlocked").status_code == 201
            titles = {a["title"] for a in http.get("/api/articles").json()["articles"]}
            assert titles == {"Before", *kept, "Space again", "Unlocked"}
        # The same database seen through a read-only mount, by a second server.
        with read_only_view(folder) as view:
            for http in serve(f"sqlite+aiosqlite:///{view / 'conduit.db'}", migrate=False):
                _not_ready(http, "database is read-only (its file system is mounted read-only)")
                _assert_unavailable(_write(http, token, "Refused"))


async def test_an_unreachable_database_is_a_503_whatever_the_way_it_fails(tmp_path: Path) -> None:
    """A missing unix socket (asyncpg's default for a local server) or an unknown host raise plain
    OSErrors from the driver, which SQLAlchemy does not wrap: still 503, not 500."""
    for url in ("postgresql+asyncpg://postgres@/conduit?host=/nonexistent-socket-folder",
                "postgresql+asyncpg://postgres@no-such-host.invalid/conduit"):
        application = create_app({"env": "testing", "database_url": url, "db_timeout": 2})
        async with application.test_app():
            answer = await application.test_client().get("/api/tags")
            assert answer.status_code == 503, url
            assert await answer.get_json() == {"errors": {"database": [
                "is unavailable just now; try again in a few seconds"]}}


async def test_a_mistake_is_not_dressed_up_as_an_outage(tmp_path: Path) -> None:
    """An unmigrated database ("no such table") is this deployment's error, not a passing fault:
    a logged 500, and /readyz says what to run. Only SQLite's busy, locked, full, read-only,
    I/O and can't-open codes are 503s."""
    application = create_app({"env": "testing", "database_url": f"sqlite+aiosqlite:///{tmp_path / 'e.db'}"})
    async with application.test_app():
        client = application.test_client()
        assert (await client.get("/api/tags")).status_code == 500
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert "not migrated" in (await ready.get_json())["reason"]
