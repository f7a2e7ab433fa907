"""Admission control: a worker works on at most ``CONDUIT_MAX_IN_FLIGHT`` requests at once and
refuses the rest at once, cheaply, with ``503`` and ``Retry-After: 1``, named "busy".

Without it a worker past capacity took every request in: each one waited up to the database
timeout (5 s) for one of the pool's connections, most were refused after that wait as if the
database had failed, and the few answered came too late for their clients (open loop at 1,200/s
of the ``mixed`` scenario on 2 workers: goodput 414/s at p50 5.8 s, 3,899 such 503s;
docs/load-testing.md#overload). Refusing
what cannot be served in time keeps the admitted requests fast and the goodput near the best
throughput (Google's SRE book, "Handling Overload": reject early and cheaply).

Of them, at most ``CONDUIT_MAX_WRITES_IN_FLIGHT`` are writes (on SQLite 2: every write waits
for the file's one write lock, and more writers only lengthen that queue; reads are still admitted
while writes are refused). A request past a limit may wait up to ``CONDUIT_ADMIT_WAIT_MS`` for a
slot (0 by default: a wait adds to every refusal's time), in arrival order, with at most as many
waiting as the limit; the others are refused without waiting. The refusal is built here, before
Quart makes a request context, so it costs a fraction of a served request. Health probes and
WebSocket handshakes are not counted: a busy host still answers its balancer, and live sockets
have their own limits (app/live).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope

from app.observe import metrics
from app.observe.record import CURRENT
from app.serving.guard import is_api

BUSY_MESSAGE = "is busy just now; try again in a second"
RETRY_AFTER = b"1"
_JSON = json.dumps({"errors": {"server": [BUSY_MESSAGE]}}).encode() + b"\n"
_HTML = (b"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Busy - Conduit"
         b"</title></head><body><h1>503: the server is busy</h1><p>Too many people are reading "
         b"just now. Try again in a second.</p></body></html>\n")


def wants_json(scope: Any) -> bool:
    """The API, or a client that asks for JSON rather than HTML (as app/errors.py decides)."""
    if is_api(scope["path"]):
        return True
    accept = next((value for name, value in scope["headers"] if name == b"accept"), b"")
    return b"application/json" in accept and b"text/html" not in accept


def refusal(scope: Any) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The busy answer's headers and body, in the client's language."""
    body, kind = (_JSON, b"application/json") if wants_json(scope) else (_HTML, b"text/html; charset=utf-8")
    return [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
            (b"retry-after", RETRY_AFTER), (b"cache-control", b"no-store")], body


UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})  # the methods that write


class Slots:
    """At most ``limit`` holders at once; one past it waits up to ``wait_s`` for a slot, in
    arrival order, with at most ``limit`` waiting; the others are turned away at once."""

    def __init__(self, limit: int, wait_s: float) -> None:
        self.limit = limit
        self.wait_s = wait_s
        self.in_use = 0
        self._waiting: deque[asyncio.Future[bool]] = deque()
        self._waiters = 0

    async def take(self) -> bool:
        if self.in_use < self.limit and not self._waiters:
            self.in_use += 1
            return True
        if self._waiters >= self.limit or self.wait_s <= 0:
            return False
        loop = asyncio.get_running_loop()
        granted: asyncio.Future[bool] = loop.create_future()
        # The timer answers "no" itself: no task is cancelled, so a slot handed over at the same
        # moment cannot be lost between the two.
        timer = loop.call_later(self.wait_s, _say_no, granted)
        self._waiting.append(granted)
        self._waiters += 1
        try:
            return await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled() and granted.result():
                self.give_back()  # handed a slot just as this request was cancelled
            raise
        finally:
            self._waiters -= 1
            timer.cancel()

    def give_back(self) -> None:
        """Hand the slot to the longest waiting request still waiting, else free it."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return
        self.in_use -= 1


class Admission:
    """Wraps an ASGI app. ``limit``: requests worked on at once; ``writes``: of those, how many
    may be writes (a method in UNSAFE); ``wait_s``: how long one past a limit may wait for a
    slot. ``probes``: paths never counted nor refused."""

    def __init__(self, app: Any, *, limit: int, wait_s: float, probes: frozenset[str],
                 writes: int | None = None) -> None:
        self.app = app
        self.probes = probes
        self.slots = Slots(limit, wait_s)
        self.write_slots = Slots(min(writes or limit, limit), wait_s)
        self.refused = 0

    @property
    def in_flight(self) -> int:
        return self.slots.in_use

    async def __call__(self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] != "http" or scope["path"] in self.probes:
            await self.app(scope, receive, send)
            return
        writes = self.write_slots if scope["method"] in UNSAFE else None
        if writes is not None and not await writes.take():
            await self._refuse(scope, send)
            return
        try:
            if not await self.slots.take():
                await self._refuse(scope, send)
                return
            try:
                await self.app(scope, receive, send)
            finally:
                self.slots.give_back()
        finally:
            if writes is not None:
                writes.give_back()

    async def _refuse(self, scope: Scope, send: ASGISendCallable) -> None:
        self.refused += 1
        metrics.REFUSED_BUSY.inc()
        record = CURRENT.get()
        if record is not None:
            record.route = metrics.REFUSED_ROUTE
        headers, body = refusal(scope)
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _say_no(granted: asyncio.Future[bool]) -> None:
    if not granted.done():
        granted.set_result(False)
