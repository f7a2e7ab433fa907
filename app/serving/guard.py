"""The ASGI guard in front of Quart: ``Guard``, and which paths it lets WebSocket handshakes and
machines' probes through on.

It answers what Quart cannot (Quart would fail before any error handler runs, and the server would
send an empty 500):

- a Host header Werkzeug cannot bind to (``a..b``, a 64-letter label; app/serving/host_names.py):
  400;
- a WebSocket handshake to any path but the live sockets' and the lab's (Quart would answer it
  with a 500), or with a Host header it cannot bind: 403.

It says ``Connection: close`` where Hypercorn would otherwise end the connection silently: on an
answer sent before the request's body was read, and on a refused handshake
(app/serving/connection_close.py).

And it puts the security headers (app/serving/security_headers.py) on every answer but the health
probes' (pages, API, errors and static files alike), in one place no route can forget.
"""

from __future__ import annotations

import json
from typing import Any

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope

from app.serving.connection_close import has_body, refusal_closes
from app.serving.host_names import host_is_valid
from app.serving.security_headers import HSTS, SECURITY_HEADERS

# The WebSocket endpoints: the live sockets (app/live), and the contexts lab's when it is served.
LIVE_SOCKETS = frozenset({"/live", "/api/live"})
LAB_SOCKET = "/contexts/socket"
# Machines' probes (load balancers, Docker): nothing to protect in a browser, answered as they come.
PROBES = frozenset({"/healthz", "/readyz"})


def is_api(path: str) -> bool:
    """The path is the JSON API's (app/errors.py's ``is_api_path``, before Quart has a request)."""
    return path == "/api" or path.startswith("/api/")


class Guard:
    """Wraps the Quart app's ASGI callable. ``hsts``: add HSTS (production); ``lab``: the contexts
    lab's socket is served, so its handshakes are let through."""

    def __init__(self, app: Any, *, hsts: bool = False, lab: bool = False) -> None:
        self.app = app
        self.headers = [*SECURITY_HEADERS, HSTS] if hsts else SECURITY_HEADERS
        self.websockets = LIVE_SOCKETS | {LAB_SOCKET} if lab else LIVE_SOCKETS

    async def __call__(self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] == "websocket":
            host = next((value for name, value in scope["headers"] if name == b"host"), b"")
            if scope["path"] in self.websockets and host_is_valid(host.decode("latin-1")):
                await self.app(scope, receive, refusal_closes(send))
                return
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": ""})
            return
        if scope["type"] == "http":
            host = next((value for name, value in scope["headers"] if name == b"host"), b"")
            if not host_is_valid(host.decode("latin-1")):
                api = is_api(scope["path"])
                body, kind = (json.dumps({"errors": {"host": ["is not a valid host name"]}}).encode(),
                              b"application/json; charset=utf-8") if api else \
                    (b"400 Bad Request: the Host header is not a valid host name.\n",
                     b"text/plain; charset=utf-8")
                await send({"type": "http.response.start", "status": 400, "headers": [
                    (b"content-type", kind), (b"content-length", str(len(body)).encode()),
                    *self.headers]})
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return

        if scope["type"] != "http" or scope["path"] in PROBES:
            await self.app(scope, receive, send)
            return
        body_read = not has_body(scope)

        async def receive_and_note() -> Any:
            nonlocal body_read
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                body_read = True
            return message

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                own = list(message.get("headers", ()))
                if any(name == b"content-security-policy" for name, _value in own):
                    own += self.headers[1:]  # the route set its own policy (the lab's page)
                else:
                    own += self.headers
                if not body_read:  # answering before the body was read: say the connection ends
                    own.append((b"connection", b"close"))
                message = {**message, "headers": own}
            await send(message)

        await self.app(scope, receive if body_read else receive_and_note, send_with_headers)
