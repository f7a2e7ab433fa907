"""``/contexts/socket``: one task per connection, with its own ``websocket`` context and ``g``.

A WebSocket is served by one asyncio task for its whole life: Quart pushes the websocket context
(and an application context, so a fresh ``g``) once, at the handshake, and pops them when the
handler returns. Whatever the handler puts into ``g`` or a ContextVar at connect time is still
there at the thousandth message, while hundreds of other sockets interleave on the same thread.

Protocol. Connect with ``?token=T`` (the echo's rules: 1..64 characters). The server sends
``{"type": "hello", ...}``, then answers each text message, in order, with what the handler sees:

- ``{"say": "...", "delay_ms": N}`` (``delay_ms`` optional, 0..1000; ``say`` at most 64
  characters): ``{"type": "echo", "say": ..., "n": <message number>, "g": ..., "contextvar": ...,
  "websocket_arg": ..., "pid", "thread_id", "task_id", "open", "in_flight"}``, after awaiting N ms
  (``open``: this worker's lab sockets; ``in_flight``: its messages mid-await as this one reads back);
- ``{"spawn": true}``: starts three background jobs from the handler and answers
  ``{"type": "spawned", "handler": {...}, "jobs": {name: {...}}}`` with what each one saw.

A refused handshake gets an HTTP answer (422 bad token, 403 another site's page, 503 the worker
holds ``MAX_OPEN`` lab sockets). A bad message closes the socket with a code and a reason:
1003 binary frame, 1009 too big, 4400 not a message of this protocol; 4408 idle too long.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from contextvars import ContextVar
from typing import Any, cast
from urllib.parse import urlsplit

from quart import (
    Quart,
    Response,
    copy_current_websocket_context,
    current_app,
    g,
    has_app_context,
    has_websocket_context,
    websocket,
)
from quart.globals import websocket_ctx

from app.contexts.background import task_id
from app.contexts.params import InFlight, LabInputError, parse_token

MAX_OPEN = 2000  # lab sockets per worker; the next handshake is refused with 503
MESSAGE_MAX = 512  # characters in one message
SAY_MAX = 64
DELAY_MAX_MS = 1000
IDLE_S = 300.0  # a socket that says nothing for this long is closed
JOB_WAIT_S = 5.0  # how long a spawn waits for its jobs' reports

UNSUPPORTED = 1003
TOO_BIG = 1009
BAD_MESSAGE = 4400
IDLE = 4408

SOCKET_JOBS = ("add_background_task", "copy_current_websocket_context", "create_task")

# The socket's own context-local, set once at connect time.
socket_token: ContextVar[str | None] = ContextVar("conduit_lab_socket_token", default=None)
# Bare tasks are only weakly referenced by the loop: keep them alive until they finish.
_bare_tasks: set[asyncio.Task[None]] = set()


class OpenSockets:
    """How many lab sockets this worker holds (one event loop: no lock needed)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0


open_sockets = OpenSockets(MAX_OPEN)
# Messages mid-await in this worker, read back by each echo: climbs when sockets interleave.
messages_in_flight = InFlight()


class BadMessage(Exception):
    """Closes the socket with ``code`` and ``reason`` (at most 123 bytes, the protocol's limit)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def _refusal(status: int, field: str, message: str) -> Response:
    body = json.dumps({"errors": {field: [message]}})
    return Response(body, status=status, content_type="application/json")


def _same_site() -> bool:
    """No Origin (not a browser) or this site's own: another site's page cannot make its visitors'
    browsers hold the lab's sockets."""
    origin = websocket.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc.lower() == websocket.host.lower()


async def lab_socket() -> Response | None:
    """The websocket view (registered in views.py as ``/contexts/socket``)."""
    try:
        token = parse_token(websocket.args)
    except LabInputError as error:
        return _refusal(422, error.field, error.message)
    if not _same_site():
        return _refusal(403, "origin", "is not this site")
    if open_sockets.count >= open_sockets.limit:
        return _refusal(503, "sockets", f"this worker holds its limit of {open_sockets.limit} lab sockets")
    open_sockets.count += 1  # before the first await: two handshakes cannot both take the last place
    try:
        await websocket.accept()
        g.socket_token = token  # for the whole connection: this task's app context
        socket_token.set(token)  # this task's copy of the context
        await websocket.send(json.dumps({"type": "hello", **_seen(0)}))
        await _converse()
    finally:
        open_sockets.count -= 1
    return None


def _seen(number: int) -> dict[str, Any]:
    """What the handler sees now."""
    return {
        "n": number,
        "g": g.get("socket_token"),
        "contextvar": socket_token.get(),
        "websocket_arg": websocket.args.get("token"),
        "pid": os.getpid(),
        "thread_id": threading.get_ident(),
        "task_id": task_id(),
        "open": open_sockets.count,
    }


async def _converse() -> None:
    number = 0
    while True:
        try:
            async with asyncio.timeout(IDLE_S):
                raw = await websocket.receive()
            message = parse_message(raw)
        except TimeoutError:
            await websocket.close(IDLE, f"idle for {IDLE_S:.0f} s")
            return
        except BadMessage as bad:
            await websocket.close(bad.code, bad.reason)
            return
        number += 1
        if "spawn" in message:
            reply = {"type": "spawned", "n": number, **await spawn()}
        else:
            with messages_in_flight.entered():
                await asyncio.sleep(message.get("delay_ms", 0) / 1000)  # other sockets run meanwhile
                in_flight = messages_in_flight.count
            reply = {"type": "echo", "say": message["say"], "in_flight": in_flight, **_seen(number)}
        await websocket.send(json.dumps(reply))


def parse_message(raw: str | bytes) -> dict[str, Any]:
    """A message of the protocol, or BadMessage."""
    if not isinstance(raw, str):
        raise BadMessage(UNSUPPORTED, "send text frames holding JSON")
    if len(raw) > MESSAGE_MAX:
        raise BadMessage(TOO_BIG, f"messages are at most {MESSAGE_MAX} characters")
    try:
        message = json.loads(raw)
    except ValueError:
        raise BadMessage(BAD_MESSAGE, "not JSON") from None
    if not isinstance(message, dict):
        raise BadMessage(BAD_MESSAGE, 'expected an object: {"say": "..."} or {"spawn": true}')
    if message == {"spawn": True}:
        return message
    if set(message) - {"say", "delay_ms"} or "say" not in message:
        raise BadMessage(BAD_MESSAGE, 'expected {"say": "...", "delay_ms": N} or {"spawn": true}')
    say, delay = message["say"], message.get("delay_ms", 0)
    if not isinstance(say, str) or len(say) > SAY_MAX:
        raise BadMessage(BAD_MESSAGE, f"say must be a string of at most {SAY_MAX} characters")
    if type(delay) is not int or not 0 <= delay <= DELAY_MAX_MS:  # bool is an int: refused too
        raise BadMessage(BAD_MESSAGE, f"delay_ms must be a whole number from 0 to {DELAY_MAX_MS}")
    return message


def _current(proxy: object) -> Any:
    """The object behind one of Quart's context proxies (for identity checks)."""
    return cast(Any, proxy)._get_current_object()


def observe(socket_g: object, socket_context: object) -> dict[str, Any]:
    """What the code running now sees, compared with what the socket's handler has."""
    in_app, in_socket = has_app_context(), has_websocket_context()
    own_context = in_socket and _current(websocket_ctx) is socket_context
    return {
        "g": g.get("socket_token") if in_app else None,
        "g_is_the_sockets": in_app and _current(g) is socket_g,
        "has_websocket_context": in_socket,
        "websocket_context": ("the socket's own" if own_context else "a copy") if in_socket else None,
        "websocket": websocket.args.get("token") if in_socket else None,
        "contextvar": socket_token.get(),
        "thread_id": threading.get_ident(),
        "task_id": task_id(),
    }


async def spawn() -> dict[str, Any]:
    """Start the three jobs while the socket is open, and wait for what each one saw."""
    app = cast(Quart, _current(current_app))
    socket_g, socket_context = _current(g), _current(websocket_ctx)
    loop = asyncio.get_running_loop()
    reports: dict[str, asyncio.Future[dict[str, Any]]] = {name: loop.create_future() for name in SOCKET_JOBS}

    async def job(name: str) -> None:
        await asyncio.sleep(0)  # the handler is back to waiting on its reports
        seen = observe(socket_g, socket_context)
        if not reports[name].done():  # the socket may have gone (its handler cancelled)
            reports[name].set_result(seen)

    app.add_background_task(job, "add_background_task")
    app.add_background_task(copy_current_websocket_context(job), "copy_current_websocket_context")
    bare = asyncio.create_task(job("create_task"))
    _bare_tasks.add(bare)
    bare.add_done_callback(_bare_tasks.discard)
    done, _pending = await asyncio.wait(reports.values(), timeout=JOB_WAIT_S)
    return {
        "handler": observe(socket_g, socket_context),
        "jobs": {name: report.result() if report in done else None for name, report in reports.items()},
    }
