"""Starting and stopping servers, and reading what they cost: shared by the benchmarks and the tests.

CPU cost is read from /proc: utime + stime of the server's master process and every process below
it, before and after a run. Divided by the requests served, it is stable to about 10% on a shared,
noisy machine, where throughput alone swings with whatever else runs.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from app.contexts.params import IN_FLIGHT_HEADER

ROOT = Path(__file__).resolve().parents[2]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PG_HOST = os.environ.get("CONDUIT_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_URL = f"postgresql://postgres@{PG_HOST}:5432/postgres"


# For servers that are measured on other things than overload (the lab's waits at concurrency
# 1,024, CPU per request, data at scale, live sockets): past CONDUIT_MAX_IN_FLIGHT their figures
# would be refusals. bench/overload.py measures admission itself, with the shipped default.
NO_ADMISSION_LIMIT = {"CONDUIT_MAX_IN_FLIGHT": "10000", "CONDUIT_MAX_WRITES_IN_FLIGHT": "10000"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pg_url(name: str) -> str:
    return f"postgresql+asyncpg://postgres@{PG_HOST}:5432/{name}"


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_pg_database(name: str) -> None:
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))


def drop_pg_database(name: str) -> None:
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Server:
    """A running server process: its URL and its process id (the master, for Hypercorn)."""

    url: str
    proc: subprocess.Popen[bytes]

    def pids(self) -> list[int]:
        """The master and every process below it (Hypercorn's workers)."""
        return process_tree(self.proc.pid)

    def cpu_seconds(self) -> float:
        """utime + stime of the master and its workers so far."""
        return tree_cpu_seconds(self.proc.pid)


def process_tree(root: int) -> list[int]:
    """A process and every process below it."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    queue += [int(child) for child in children.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def tree_cpu_seconds(root: int) -> float:
    """utime + stime so far (fields 14 and 15 of /proc/pid/stat) of a process and those below it."""
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def postgres_cpu_seconds() -> float:
    """utime + stime of every PostgreSQL server process on this machine, and of the ones that have
    exited (the postmaster's cutime + cstime): what the database spent for the requests, which the
    app's own figure leaves out."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                head, tail = stat.read().rsplit(")", 1)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if head.endswith("(postgres"):
            fields = tail.split()
            total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def wait_until_echo_in_flight(base: str, timeout: float = 60) -> None:
    """Returns once a probe of the lab's echo counts another echo in flight on its worker (the
    slow one the caller started), so a signal sent next finds that request running; no clock
    guesses when it has arrived. Each probe is a new connection, so the kernel spreads probes
    over every worker. AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/contexts/echo?token=probe&delay_ms=0",
                                        timeout=10) as answer:
                if int(answer.headers[IN_FLIGHT_HEADER]) >= 2:
                    return
        except OSError:
            pass
        time.sleep(0.01)
    raise AssertionError(f"no echo seen in flight at {base} within {timeout} s")


@contextmanager
def running_server(command: list[str], *, probe: str, log: Path, cwd: Path = ROOT,
                   env: dict[str, str] | None = None, timeout: float = 30) -> Iterator[Server]:
    """Start a server process, wait until ``probe`` answers 200, stop it (SIGTERM) afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env or dict(os.environ), stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not _answers(probe):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(command[:3])} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield Server(url=probe.split("/", 3)[0] + "//" + probe.split("/", 3)[2], proc=proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def fresh_production_server(backend: str, work: Path) -> Iterator[str]:
    """A production-mode ``conduit-serve`` (one worker, rate limits off: every request comes from
    one address) on a new, migrated, empty database of ``backend``, dropped afterwards; yields
    its base URL. For the outside suites (schemathesis, RealWorld's Postman collection)."""
    import secrets
    import sys

    bin_dir = Path(sys.executable).parent
    name = f"conduit_outside_{secrets.token_hex(4)}"
    url = f"sqlite+aiosqlite:///{work / 'outside.db'}" if backend == "sqlite" else pg_url(name)
    if backend != "sqlite":
        create_pg_database(name)
    try:
        env = {**os.environ, "CONDUIT_ENV": "production", "CONDUIT_DATABASE_URL": url,
               "CONDUIT_SECRET_KEY": secrets.token_urlsafe(48), "CONDUIT_RATE_LIMITS": "false",
               "CONDUIT_LOG_LEVEL": "WARNING"}
        subprocess.run([str(bin_dir / "quart"), "--app", "app", "db", "upgrade"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with running_server([str(bin_dir / "conduit-serve"), "--bind", f"127.0.0.1:{port}",
                             "--workers", "1", "--access-logfile", "/dev/null"],
                            probe=f"{base}/healthz", env=env, log=work / "server.log", timeout=60):
            yield base
    finally:
        if backend != "sqlite":
            drop_pg_database(name)


def worker_pids(master: int) -> set[int]:
    """The master's worker processes (not multiprocessing's resource tracker)."""
    found = set()
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    for pid in map(int, children):
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
        except FileNotFoundError:
            continue
    return found
