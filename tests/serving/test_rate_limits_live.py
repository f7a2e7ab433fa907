"""The limit is the limit with two workers: wrong sign-ins sent alternately to each worker of a real
conduit-serve are counted together, with the database's counters (no extra server) and with Redis."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from quart import Quart

from tests.conftest import ROOT
from tests.support.servers import free_port, running_server


@pytest.fixture
def two_workers(app: Quart, database_url: str, shared_store: dict[str, str],
                tmp_path: Path) -> Iterator[str]:
    """conduit-serve with two workers and its limits on (``app`` for the suite's cleanup)."""
    port = free_port()
    env = {**os.environ, "CONDUIT_ENV": "testing", "CONDUIT_DATABASE_URL": database_url,
           "CONDUIT_RATE_LIMITS": "on", **shared_store}
    command = [sys.executable, "-m", "app.serving.serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    with running_server(command, probe=f"http://127.0.0.1:{port}/healthz", cwd=ROOT, env=env,
                        log=tmp_path / "serve.log"):
        yield f"http://127.0.0.1:{port}"


async def _one_connection_per_worker(base: str) -> list[httpx.AsyncClient]:
    """Kept-alive connections until one reaches each worker (the lab's echo says whose it is)."""
    by_pid: dict[int, httpx.AsyncClient] = {}
    spare: list[httpx.AsyncClient] = []
    for _ in range(60):
        client = httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=1))
        pid = (await client.get("/contexts/echo", params={"token": "who"})).json()["pid"]
        if pid in by_pid:
            spare.append(client)
        else:
            by_pid[pid] = client
        if len(by_pid) == 2:
            break
        await asyncio.sleep(0.02)
    for client in spare:
        await client.aclose()
    assert len(by_pid) == 2, "every connection went to one worker"
    return list(by_pid.values())


async def test_wrong_sign_ins_are_counted_across_both_workers(two_workers: str) -> None:
    workers = await _one_connection_per_worker(two_workers)
    try:
        body = {"user": {"email": "nobody@example.test", "password": "guess"}}
        for attempt in range(10):  # five on each worker: the account's 10 from this address
            answer = await workers[attempt % 2].post("/api/users/login", json=body)
            assert answer.status_code == 401, answer.text
        for worker in workers:  # per-worker counters would let each of them take five more
            answer = await worker.post("/api/users/login", json=body)
            assert answer.status_code == 429, answer.text
            assert int(answer.headers["Retry-After"]) >= 1
    finally:
        for worker in workers:
            await worker.aclose()
