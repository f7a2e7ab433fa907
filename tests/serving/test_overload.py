"""Admission control on a real conduit-serve: past CONDUIT_MAX_IN_FLIGHT a request is refused at
once as busy, in the client's language, while the probes still answer; once the held request is
gone, requests are admitted again."""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port, running_server

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.once


def _hold_a_slow_echo(port: int, opened: threading.Event, done: threading.Event) -> None:
    """One request that holds the worker's only slot for up to 10 s, abandoned on ``done``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/contexts/echo?token=slow&delay_ms=10000")
    opened.set()
    done.wait()
    connection.close()  # the client leaves: the server cancels the echo


def _until(condition: str, check: object, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = check()  # type: ignore[operator]
        if answer is not None:
            return answer  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise AssertionError(f"not {condition} within {timeout} s")


def test_a_full_worker_refuses_at_once_and_admits_again(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CONDUIT_ENV": "testing", "CONDUIT_DATABASE_URL": database_url,
           "CONDUIT_CONTEXTS_LAB": "true", "CONDUIT_MAX_IN_FLIGHT": "1",
           "CONDUIT_ADMIT_WAIT_MS": "0"}
    command = [sys.executable, "-m", "app.serving.serve", "--bind", f"127.0.0.1:{port}",
               "--workers", "1"]
    with running_server(command, probe=f"{base}/healthz", env=env, log=tmp_path / "serve.log"), \
            httpx.Client(base_url=base, timeout=30) as client:
        opened, done = threading.Event(), threading.Event()
        holder = threading.Thread(target=_hold_a_slow_echo, args=(port, opened, done))
        holder.start()
        try:
            opened.wait()

            def refused() -> httpx.Response | None:
                answer = client.get("/api/tags")
                return answer if answer.status_code == 503 else None

            api = _until("refused while the slow echo runs", refused)
            assert api.headers["retry-after"] == "1"
            assert api.headers["content-type"] == "application/json"
            assert api.json() == {"errors": {"server": ["is busy just now; try again in a second"]}}
            assert api.headers["x-content-type-options"] == "nosniff"  # the guard's headers too
            page = client.get("/", headers={"Accept": "text/html"})
            assert page.status_code == 503 and "busy" in page.text
            assert page.headers["content-type"].startswith("text/html")
            assert client.get("/healthz").status_code == 200  # the balancer still hears it
            assert client.get("/readyz").status_code == 200
        finally:
            done.set()
            holder.join()

        def admitted() -> httpx.Response | None:
            answer = client.get("/api/tags")
            return answer if answer.status_code == 200 else None

        assert isinstance(json.loads(_until("admitted again", admitted).text)["tags"], list)
