"""Helpers shared by tests: PostgreSQL scratch databases, query counting, bulk users."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.models import User

PG_HOST = os.environ.get("CONDUIT_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_URL = f"postgresql://postgres@{PG_HOST}:5432/postgres"


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


@contextmanager
def count_queries(engine: AsyncEngine) -> Iterator[list[str]]:
    """Collect every SQL statement the engine sends while the block runs."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def add_users(session: AsyncSession, count: int, password_hash: str,
                    prefix: str = "user") -> list[int]:
    """Many users at once, sharing one precomputed hash (seconds saved; hashing is tested apart)."""
    people = [User(username=f"{prefix}{i}", email=f"{prefix}{i}@example.test",
                   password_hash=password_hash) for i in range(count)]
    session.add_all(people)
    await session.commit()
    return [person.id for person in people]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(command: list[str], *, probe: str, log: Path, cwd: Path,
                   env: dict[str, str] | None = None) -> Iterator[None]:
    """Start a server process, wait until ``probe`` answers 200, stop it (SIGTERM) afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env or dict(os.environ), stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(probe, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[2]} did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
