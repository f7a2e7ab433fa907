"""Databases a test may break: a PostgreSQL cluster of its own (stopped with SIGSTOP, shut down,
made read-only), a database of its own on the shared server (made to refuse connections, its
connections terminated: nothing else there is touched) and a SQLite file on a tiny tmpfs of its
own (filled up, remounted read-only). A real conduit-serve in front of them, and what its answers
must be while they are broken."""

from __future__ import annotations

import asyncio
import glob
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from tests.support.servers import (
    PG_ADMIN_URL,
    ROOT,
    create_pg_database,
    drop_pg_database,
    free_port,
    pg_url,
    running_server,
)

# A hang fails the test: every answer must come well inside this (pool wait + one statement).
CLIENT_TIMEOUT_S = 20
UNAVAILABLE = {"errors": {"database": ["is unavailable just now; try again in a few seconds"]}}


@contextmanager
def served(url: str, log: Path, *, db_timeout: int, workers: int = 1,
           settings: dict[str, str] | None = None) -> Iterator[httpx.Client]:
    """A real conduit-serve on ``url`` (already migrated), and a client for it (``settings``:
    more CONDUIT_ variables)."""
    port = free_port()
    env = {**os.environ, "CONDUIT_ENV": "testing", "CONDUIT_DATABASE_URL": url,
           "CONDUIT_DB_TIMEOUT": str(db_timeout), **(settings or {})}
    command = [sys.executable, "-m", "app.serving.serve", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers)]
    with running_server(command, probe=f"http://127.0.0.1:{port}/healthz", cwd=ROOT, env=env,
                        log=log), \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=CLIENT_TIMEOUT_S) as http:
        yield http


def assert_unavailable(answer: httpx.Response, retry_after: int) -> None:
    """503 with Retry-After: the RealWorld errors envelope under /api, the error page elsewhere."""
    assert answer.status_code == 503, (answer.request.url.path, answer.status_code, answer.text[:300])
    assert answer.headers["Retry-After"] == str(retry_after)
    if answer.request.url.path.startswith("/api/"):
        assert answer.json() == UNAVAILABLE
    else:
        assert answer.headers["content-type"].startswith("text/html")
        assert "503 Service Unavailable" in answer.text and "try again in a few seconds" in answer.text


@dataclass
class OwnDatabase:
    """A database of the test's own on the shared server; only it is altered or terminated.
    Statements go through the server's ``postgres`` database, never a connection to this one.
    (Async: ``asyncio.run`` them from a synchronous test.)"""

    name: str

    @property
    def url(self) -> str:
        return pg_url(self.name)

    @property
    def dsn(self) -> str:
        """For asyncpg itself."""
        return self.url.replace("+asyncpg", "")

    async def admin(self, sql: str, *args: object) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def allow_connections(self, allowed: bool) -> None:
        await self.admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS {str(allowed).lower()}')

    async def terminate_connections(self, *, sparing: int | None = None,
                                    deadline_s: float = 60) -> None:
        """pg_terminate_backend every connection to this database (but the backend ``sparing``),
        and wait until they are gone: terminating only signals them."""
        where = "datname = $1 AND pid <> $2"
        await self.admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {where}",
                         self.name, sparing or 0)
        deadline = time.monotonic() + deadline_s
        while await self.admin(f"SELECT pid FROM pg_stat_activity WHERE {where}",
                               self.name, sparing or 0):
            assert time.monotonic() < deadline, "terminated connections did not go away"
            await asyncio.sleep(0.05)

    async def waiting_for_a_lock(self) -> list[int]:
        """The backends of this database waiting for a lock."""
        rows = await self.admin("SELECT pid FROM pg_stat_activity WHERE datname = $1 "
                                "AND wait_event_type = 'Lock'", self.name)
        return [int(row[0]) for row in rows]


@contextmanager
def own_pg_database() -> Iterator[OwnDatabase]:
    """An empty database on the shared server, dropped afterwards (its connections with it)."""
    database = OwnDatabase(f"conduit_fault_{os.getpid()}_{secrets.token_hex(3)}")
    create_pg_database(database.name)
    try:
        yield database
    finally:
        drop_pg_database(database.name)


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (Debian: postgresql)")
    return found[-1]


def _as_postgres(*command: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True,
                   timeout=60)


@dataclass
class Cluster:
    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/conduit"

    def start(self) -> None:
        _as_postgres(_pg_bin("pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.folder / "log"),
                     "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                           "-c fsync=off -c max_connections=40", "start")

    def stop(self) -> None:
        _as_postgres(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def psql(self, *statements: str, database: str = "conduit") -> None:
        """Each statement on its own (one session; none in a transaction block)."""
        commands = [arg for statement in statements for arg in ("-c", statement)]
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "-d", database, "-v", "ON_ERROR_STOP=1", *commands],
                       check=True, capture_output=True, timeout=30)

    def signal_all(self, sig: signal.Signals) -> None:
        """SIGSTOP or SIGCONT the postmaster and every backend: a frozen server."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        for pid in (postmaster, *map(int, children)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                continue


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of this test's own on a free port, with an empty ``conduit`` database."""
    folder = Path(tempfile.mkdtemp(prefix="conduit-pg-"))
    shutil.chown(folder, "postgres")
    cluster = Cluster(folder, free_port())
    try:
        _as_postgres(_pg_bin("initdb"), "-D", str(cluster.data), "-A", "trust", "-U", "postgres")
        cluster.start()
        cluster.psql("CREATE DATABASE conduit", database="postgres")
        yield cluster
    finally:
        if (cluster.data / "postmaster.pid").exists():
            cluster.signal_all(signal.SIGCONT)
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def tiny_tmpfs(size: str = "8m") -> Iterator[Path]:
    """A file system of ``size`` of this test's own (root mounts it), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="conduit-tmpfs-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
        folder.rmdir()


@contextmanager
def read_only_view(folder: Path) -> Iterator[Path]:
    """``folder`` again, through a read-only bind mount (a file system cannot be remounted
    read-only while a server has a database on it open for writing)."""
    view = Path(tempfile.mkdtemp(prefix="conduit-ro-"))
    subprocess.run(["mount", "--bind", str(folder), str(view)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        yield view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=True)
        view.rmdir()


def fill(folder: Path) -> Path:
    """Write a file until the disk is full; delete it to free the space."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler
