"""A worker past its capacity answers at once and names it: busy (too many password hashes
waiting), a request past its deadline cancelled, a client that left no longer worked for.
In-process apps of their own; the admission limit itself is tests/unit/test_admission.py and, on
a real server, tests/serving/test_overload.py."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from quart import Quart

from app import create_app
from app.contexts.views import echo_in_flight
from app.domain import passwords
from app.serving.admission import BUSY_MESSAGE


@asynccontextmanager
async def serving(database_url: str, **settings: Any) -> AsyncIterator[Quart]:
    app = create_app({"env": "testing", "database_url": database_url, **settings})
    async with app.test_app():
        yield app


async def test_too_many_hashes_waiting_refuses_a_sign_in_at_once(database_url: str,
                                                                monkeypatch: Any) -> None:
    async with serving(database_url) as app:
        monkeypatch.setattr(passwords, "_pending",
                            passwords.HASHES_AT_ONCE + passwords.HASHES_WAITING)
        response = await app.test_client().post(
            "/api/users/login", json={"user": {"email": "a@example.com", "password": "secret"}})
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert await response.get_json() == {"errors": {"server": [BUSY_MESSAGE]}}
        monkeypatch.setattr(passwords, "_pending", 0)
        after = await app.test_client().post(
            "/api/users/login", json={"user": {"email": "a@example.com", "password": "secret"}})
        assert after.status_code == 401  # hashed and checked: no such account


async def test_hashes_run_below_the_event_loops_cpu_priority() -> None:
    def niceness() -> str:
        return str(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    assert int(await passwords._in_thread(niceness)) == passwords.HASH_NICENESS
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == 0  # the loop's own


async def test_a_request_past_its_deadline_is_cancelled_and_answered_503(database_url: str) -> None:
    """The lab's echo would answer 200 after 5 s; the deadline (2 s) cancels it first."""
    async with serving(database_url, request_deadline=2, body_timeout=1, contexts_lab=True) as app:
        response = await app.test_client().get("/contexts/echo?token=t&delay_ms=5000",
                                               headers={"Accept": "application/json"})
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert await response.get_json() == {"errors": {"request": [
            "took longer than 2 seconds; try again in a few seconds"]}}
        quick = await app.test_client().get("/contexts/echo?token=t&delay_ms=0")
        assert quick.status_code == 200  # the deadline is per request, not the worker's


async def test_a_client_that_leaves_stops_its_request(database_url: str) -> None:
    """The client disconnects while the view awaits (the lab's echo, 10 s): the view is cancelled
    and nothing is sent. Had it run on, it would have sent its 200."""
    async with serving(database_url, contexts_lab=True) as app:
        sent: list[dict[str, Any]] = []
        left = asyncio.Event()
        messages = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await left.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": "/contexts/echo", "raw_path": b"/contexts/echo", "root_path": "",
                 "query_string": b"token=t&delay_ms=10000", "client": ("127.0.0.1", 5000),
                 "server": ("127.0.0.1", 80), "extensions": {},
                 "headers": [(b"host", b"conduit.test"), (b"accept", b"application/json")]}
        call = asyncio.create_task(app(scope, receive, send))  # type: ignore[arg-type]
        while echo_in_flight.count == 0:  # noqa: ASYNC110 (the view is in its 10 s await)
            await asyncio.sleep(0.01)
        left.set()
        await asyncio.wait_for(call, 60)  # returns once the view is cancelled (or, wrongly, done)
        assert sent == []
        assert echo_in_flight.count == 0
