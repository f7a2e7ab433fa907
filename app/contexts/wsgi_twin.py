"""The lab's WSGI twin: the same echo, threadlocal, blocking and wait endpoints, the classic Flask way.

Served by threads (``make twin``: gunicorn's gthread worker, 8 threads, on 127.0.0.1:8001). Each
request owns a thread from start to finish, so ``g``, the ContextVar and even a ``threading.local``
are isolated -- and at most ``threads`` requests are in flight at once.

Only Flask is imported here, never the Quart application: ``gunicorn app.contexts.wsgi_twin:app``
builds no Quart app, opens no database and needs no settings.
"""

from __future__ import annotations

import os
import threading
import time
from contextvars import ContextVar
from typing import Any

from flask import Flask, Response, g, jsonify, request

from app.contexts.params import IN_FLIGHT_HEADER, InFlight, LabInputError, parse_ms, parse_token, wait_answer

app = Flask(__name__)

lab_token: ContextVar[str | None] = ContextVar("conduit_twin_lab_token", default=None)
thread_slot = threading.local()
echo_in_flight = InFlight()
wait_in_flight = InFlight()
# What a long-poll waits for. Nothing here ever notifies it: each wait lasts its full ``ms``.
news = threading.Condition()


@app.errorhandler(LabInputError)
def _bad_input(error: LabInputError) -> tuple[Response, int]:
    return jsonify(error.body()), 422


@app.after_request
def _allow_the_lab_page(response: Response) -> Response:
    # The lab page (served by Quart on another port) may run its experiment against the twin.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _unit() -> str:
    """The unit of isolation here: the thread (the key is named task_id to match the async lab)."""
    return f"thread:{threading.current_thread().name}"


@app.get("/contexts/echo")
def echo() -> tuple[dict[str, Any], int, dict[str, str]]:
    token = parse_token(request.args)
    delay_ms = parse_ms(request.args, "delay_ms")
    g.lab_token = token
    # A pool thread keeps one context for every request it serves, so a value set here would
    # outlive the request: reset it (Flask does the same for its own ContextVars).
    reset = lab_token.set(token)
    try:
        with echo_in_flight.entered():
            time.sleep(delay_ms / 1000)  # stands in for I/O; this thread serves nobody else meanwhile
            in_flight = echo_in_flight.count
        body = {
            "token": token,
            "g": g.get("lab_token"),
            "contextvar": lab_token.get(),
            "request_arg": request.args.get("token"),
            "thread_id": threading.get_ident(),
            "task_id": _unit(),
            "pid": os.getpid(),
        }
        return body, 200, {IN_FLIGHT_HEADER: str(in_flight)}
    finally:
        lab_token.reset(reset)


@app.get("/contexts/threadlocal")
def threadlocal() -> dict[str, Any]:
    token = parse_token(request.args)
    delay_ms = parse_ms(request.args, "delay_ms")
    thread_slot.token = token
    time.sleep(delay_ms / 1000)
    return {
        "token": token,
        "threadlocal": getattr(thread_slot, "token", None),  # nobody else ran on this thread
        "thread_id": threading.get_ident(),
    }


@app.get("/contexts/blocking")
def blocking() -> dict[str, Any]:
    ms = parse_ms(request.args, "ms")
    time.sleep(ms / 1000)  # blocks this thread only; the other threads keep serving
    ident = threading.get_ident()
    return {"ms": ms, "mode": "blocking", "thread_id": ident, "work_thread_id": ident,
            "pid": os.getpid()}


@app.get("/contexts/wait")
def wait() -> tuple[dict[str, Any], int, dict[str, str]]:
    """A long-poll, the WSGI way: the request holds its pool thread until news comes or ``ms`` pass.
    Eight threads hold eight of them; the next ones queue, unserved, for a free thread."""
    ms = parse_ms(request.args, "ms")
    started = time.time()
    with wait_in_flight.entered():
        in_flight = wait_in_flight.count  # counted on the way in: how many were held at once
        with news:
            news.wait(ms / 1000)  # blocks this thread: it serves nobody else meanwhile
    return wait_answer(ms, started, in_flight), 200, {IN_FLIGHT_HEADER: str(in_flight)}
