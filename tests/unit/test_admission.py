"""Admission control (app/serving/admission.py), called directly: a fake app that holds each request
until the test lets it go, so which request is admitted, waits or is refused is decided by the
test, never by a clock (the only timer is the admission wait itself, set to zero or to an hour)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from app.serving.admission import BUSY_MESSAGE, Admission
from tests.support.metrics import figure


class HeldApp:
    """An ASGI app that answers 200 once the test releases the request with that path."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release: dict[str, asyncio.Event] = {}
        self.arrived = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"]
        self.started.append(path)
        self.arrived.set()
        await self.release.setdefault(path, asyncio.Event()).wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def let_go(self, path: str) -> None:
        self.release.setdefault(path, asyncio.Event()).set()


def scope(path: str, accept: bytes = b"*/*", method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "headers": [(b"accept", accept)]}


async def call(gate: Admission, path: str, accept: bytes = b"*/*", method: str = "GET"
               ) -> dict[str, Any]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await gate(scope(path, accept, method), receive, send)  # type: ignore[arg-type]
    start, body = sent
    return {"status": start["status"], "headers": dict(start["headers"]), "body": body["body"]}


async def until_started(app: HeldApp, count: int) -> None:
    while len(app.started) < count:
        app.arrived.clear()
        await app.arrived.wait()


async def test_past_the_limit_a_request_is_refused_at_once_as_busy() -> None:
    app = HeldApp()
    gate = Admission(app, limit=2, wait_s=0, probes=frozenset({"/healthz"}))
    first = asyncio.create_task(call(gate, "/api/a"))
    second = asyncio.create_task(call(gate, "/b"))
    await until_started(app, 2)
    counted = figure("conduit_http_refused_total", reason="busy")

    refused = await call(gate, "/api/c")
    assert refused["status"] == 503
    assert refused["headers"][b"retry-after"] == b"1"
    assert json.loads(refused["body"]) == {"errors": {"server": [BUSY_MESSAGE]}}
    page = await call(gate, "/article/x", accept=b"text/html,application/xhtml+xml")
    assert page["status"] == 503 and page["headers"][b"content-type"].startswith(b"text/html")
    assert b"busy" in page["body"]
    assert app.started == ["/api/a", "/b"]  # neither refusal reached the app
    assert gate.refused == 2
    assert figure("conduit_http_refused_total", reason="busy") == counted + 2

    app.let_go("/api/a")
    assert (await first)["status"] == 200
    app.let_go("/api/d")
    assert (await call(gate, "/api/d"))["status"] == 200  # the freed slot admits the next one
    app.let_go("/b")
    await second
    assert gate.in_flight == 0


async def test_probes_and_websockets_are_neither_counted_nor_refused() -> None:
    app = HeldApp()
    gate = Admission(app, limit=1, wait_s=0, probes=frozenset({"/healthz"}))
    held = asyncio.create_task(call(gate, "/api/a"))
    await until_started(app, 1)
    app.let_go("/healthz")
    assert (await call(gate, "/healthz"))["status"] == 200

    seen: list[str] = []

    async def socket_app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await Admission(socket_app, limit=1, wait_s=0, probes=frozenset())(
        {"type": "websocket", "path": "/live", "headers": []}, None, None)  # type: ignore[arg-type]
    assert seen == ["websocket"]
    app.let_go("/api/a")
    await held


async def test_a_waiting_request_gets_the_next_free_slot_in_arrival_order() -> None:
    app = HeldApp()
    gate = Admission(app, limit=2, wait_s=3600, probes=frozenset())
    tasks = [asyncio.create_task(call(gate, path)) for path in ("/one", "/two")]
    await until_started(app, 2)
    tasks += [asyncio.create_task(call(gate, path)) for path in ("/three", "/four")]
    await asyncio.sleep(0)
    assert app.started == ["/one", "/two"]  # the others wait: limit 2

    app.let_go("/two")
    await until_started(app, 3)
    assert app.started[2] == "/three"  # the first to wait, the first in
    for path in ("/one", "/three", "/four"):
        app.let_go(path)
    assert [(await task)["status"] for task in tasks] == [200, 200, 200, 200]
    assert app.started[3] == "/four"
    assert gate.in_flight == 0 and gate.refused == 0


async def test_no_more_wait_than_the_limit_and_a_wait_that_runs_out_is_refused() -> None:
    app = HeldApp()
    gate = Admission(app, limit=1, wait_s=3600, probes=frozenset())
    held = asyncio.create_task(call(gate, "/held"))
    await until_started(app, 1)
    waiting = asyncio.create_task(call(gate, "/waiting"))
    await asyncio.sleep(0)
    assert (await call(gate, "/too-many"))["status"] == 503  # one waits already: the queue is full

    short = Admission(app, limit=1, wait_s=0.001, probes=frozenset())
    busy = asyncio.create_task(call(short, "/busy"))
    await until_started(app, 2)
    assert (await call(short, "/late"))["status"] == 503  # waited its 1 ms, no slot came
    for path in ("/held", "/waiting", "/busy"):
        app.let_go(path)
    await asyncio.gather(held, waiting, busy)
    assert gate.in_flight == 0 and short.in_flight == 0


async def test_writes_have_their_own_smaller_limit_within_the_whole() -> None:
    app = HeldApp()
    gate = Admission(app, limit=3, wait_s=0, probes=frozenset(), writes=1)
    write = asyncio.create_task(call(gate, "/api/articles", method="POST"))
    await until_started(app, 1)
    second = await call(gate, "/api/articles/a/comments", method="DELETE")
    assert second["status"] == 503  # the one write slot is taken
    assert json.loads(second["body"]) == {"errors": {"server": [BUSY_MESSAGE]}}
    reads = [asyncio.create_task(call(gate, path)) for path in ("/api/tags", "/")]
    await until_started(app, 3)  # reads still have the other two slots
    assert (await call(gate, "/api/user", method="PUT"))["status"] == 503
    for path in ("/api/articles", "/api/tags", "/"):
        app.let_go(path)
    await asyncio.gather(write, *reads)
    app.let_go("/api/profiles/b/follow")
    assert (await call(gate, "/api/profiles/b/follow", method="POST"))["status"] == 200
    assert gate.in_flight == 0 and gate.write_slots.in_use == 0 and gate.refused == 2


async def test_a_write_refused_for_the_whole_limit_gives_its_write_slot_back() -> None:
    app = HeldApp()
    gate = Admission(app, limit=1, wait_s=0, probes=frozenset(), writes=1)
    read = asyncio.create_task(call(gate, "/api/tags"))
    await until_started(app, 1)
    assert (await call(gate, "/api/articles", method="POST"))["status"] == 503
    assert gate.write_slots.in_use == 0
    app.let_go("/api/tags")
    await read
