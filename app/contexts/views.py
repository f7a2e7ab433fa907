"""The async lab: context-locals on one event-loop thread, under real concurrency.

Each request runs in its own asyncio task on the worker's single loop thread. ``g`` and the lab's
ContextVar live in that task's context, so they survive any number of awaits untouched by the
hundreds of other requests interleaved on the same thread; a ``threading.local`` does not.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from contextvars import ContextVar
from typing import Any

from quart import Blueprint, Response, g, jsonify, render_template, request
from quart.utils import run_sync

from app.contexts import background, sockets
from app.contexts.explanation import explanation_html
from app.contexts.params import (
    IN_FLIGHT_HEADER,
    MAX_DELAY_MS,
    InFlight,
    LabInputError,
    parse_ms,
    parse_token,
    wait_answer,
)
from app.serving.security_headers import CONTENT_SECURITY_POLICY
from app.site.csrf_check import check_csrf
from app.site.signed_in import load_signed_in_user

blueprint = Blueprint("contexts", __name__, url_prefix="/contexts")

# The lab's own context-local: one value per task (Quart's g is built on the same mechanism).
lab_token: ContextVar[str | None] = ContextVar("conduit_lab_token", default=None)
# One slot per *thread*: every request on the loop thread shares it. The anti-pattern, on purpose.
thread_slot = threading.local()
echo_in_flight = InFlight()
wait_in_flight = InFlight()
# The lab's socket (app/contexts/sockets.py). The guard lets handshakes through on this path only.
blueprint.websocket("/socket")(sockets.lab_socket)


@blueprint.errorhandler(LabInputError)
async def _bad_input(error: LabInputError) -> tuple[Response, int]:
    return jsonify(error.body()), 422


@blueprint.teardown_request
async def _teardown(_exc: BaseException | None) -> None:
    background.mark_torn_down()


@blueprint.get("")
async def index() -> Response:
    await load_signed_in_user()  # the page has the site's navigation (the lab's JSON needs no user)
    html = await asyncio.to_thread(explanation_html)
    page = Response(await render_template("contexts/index.html", explanation=html,
                                          max_delay_ms=MAX_DELAY_MS))
    # The page's script also calls the WSGI twin, on another port of the same host.
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "default-src 'self'", f"default-src 'self'; connect-src 'self' http://{host}:* https://{host}:*")
    return page


@blueprint.get("/echo")
async def echo() -> tuple[dict[str, Any], int, dict[str, str]]:
    token = parse_token(request.args)
    delay_ms = parse_ms(request.args, "delay_ms")
    g.lab_token = token
    lab_token.set(token)
    with echo_in_flight.entered():
        await asyncio.sleep(delay_ms / 1000)  # other requests run on this thread meanwhile
        in_flight = echo_in_flight.count
    body = {
        "token": token,
        "g": g.get("lab_token"),
        "contextvar": lab_token.get(),
        "request_arg": request.args.get("token"),
        "thread_id": threading.get_ident(),
        "task_id": background.task_id(),
        "pid": os.getpid(),
    }
    return body, 200, {IN_FLIGHT_HEADER: str(in_flight)}


@blueprint.get("/threadlocal")
async def threadlocal() -> dict[str, Any]:
    token = parse_token(request.args)
    delay_ms = parse_ms(request.args, "delay_ms")
    thread_slot.token = token
    await asyncio.sleep(delay_ms / 1000)
    return {
        "token": token,
        "threadlocal": getattr(thread_slot, "token", None),  # the last writer's token
        "thread_id": threading.get_ident(),
    }


@blueprint.get("/wait")
async def wait() -> tuple[dict[str, Any], int, dict[str, str]]:
    """A long-poll that hears no news for ``ms``: it holds a task, not a thread (the twin's holds one)."""
    ms = parse_ms(request.args, "ms")
    started = time.time()
    with wait_in_flight.entered():
        in_flight = wait_in_flight.count  # counted on the way in: how many were held at once
        await asyncio.sleep(ms / 1000)
    return wait_answer(ms, started, in_flight), 200, {IN_FLIGHT_HEADER: str(in_flight)}


def _work(ms: int) -> int:
    """Stands in for blocking I/O or CPU work (a password hash, a sync client call)."""
    time.sleep(ms / 1000)
    return threading.get_ident()


@blueprint.get("/blocking")
async def blocking() -> dict[str, Any]:
    ms = parse_ms(request.args, "ms")
    worker = _work(ms)  # runs on the loop thread: every other request on this worker waits
    return {"ms": ms, "mode": "blocking", "thread_id": threading.get_ident(), "work_thread_id": worker,
            "pid": os.getpid()}


@blueprint.get("/offloaded")
async def offloaded() -> dict[str, Any]:
    ms = parse_ms(request.args, "ms")
    worker = await run_sync(_work)(ms)  # a thread of the loop's executor; the loop keeps serving
    return {"ms": ms, "mode": "offloaded", "thread_id": threading.get_ident(),
            "work_thread_id": worker, "pid": os.getpid()}


@blueprint.post("/background")
async def start_background() -> dict[str, str]:
    await check_csrf()  # it writes into the visitor's session: only from the lab's own page
    token = parse_token(request.args)
    return {"id": await background.start(token)}


@blueprint.get("/background/<run_id>")
async def background_observations(run_id: str) -> tuple[dict[str, Any], int]:
    found = await background.observations(run_id)
    if found is None:
        return {"errors": {"id": ["no background run has this id"]}}, 404
    return found, 200
