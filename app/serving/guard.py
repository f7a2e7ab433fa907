"""The ASGI guard in front of Quart.

It answers what Quart cannot (Quart would fail before any error handler runs, and the server would
send an empty 500):

- a Host header Werkzeug cannot bind to (``a..b``, a 64-letter label): 400;
- a WebSocket handshake to any path but the live sockets' and the lab's (Quart would answer it
  with a 500), or with a Host header it cannot bind: 403.

When the app answers before reading the request's body (a 401, 404, 405 or 413 to a POST),
Hypercorn drops the connection after the answer without saying so, and a client's next request on
it gets nothing. The guard says ``Connection: close`` on such an answer, so the client knows to
open a new connection. (Reading the rest of the body instead does not work: Hypercorn decides at
the end of the answer, and a body still on its way is not delivered before that.)

And it puts the security headers on every answer but the health probes' (pages, API, errors and
static files alike), in one place no route can forget: a Content-Security-Policy with no inline
script (scripts and styles come from files on this site), no framing, no MIME sniffing, a
referrer policy, and HSTS in production.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope

# The common case, checked without the (slow) IDNA codec: ASCII labels of 1 to 63 characters, an
# IPv4 address or a bracketed IPv6 one, and a port.
PLAIN_HOST = re.compile(r"(?:[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*\.?|\[[0-9A-Fa-f:.]+\])"
                        r"(?::\d{1,5})?")


def host_is_valid(host: str) -> bool:
    """What Werkzeug's URL map accepts: a name (port aside) that IDNA can encode."""
    if PLAIN_HOST.fullmatch(host):
        return True
    try:
        host.partition(":")[0].encode("idna")
    except UnicodeError:
        return False
    return True


CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "img-src 'self' data: https: http:",  # avatars and pictures in articles live anywhere
    "style-src 'self'", "style-src-attr 'unsafe-inline'",  # markdown tables' text-align only
    "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
])
SECURITY_HEADERS = [  # the policy first: a route that sets its own replaces just that one
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
# The WebSocket endpoints: the live sockets (app/live), and the contexts lab's when it is served.
LIVE_SOCKETS = frozenset({"/live", "/api/live"})
LAB_SOCKET = "/contexts/socket"
# Machines' probes (load balancers, Docker): nothing to protect in a browser, answered as they come.
PROBES = frozenset({"/healthz", "/readyz"})
def has_body(scope: Any) -> bool:
    """The request declares a body (a non-zero Content-Length, or chunked)."""
    for name, value in scope["headers"]:
        if (name == b"content-length" and value not in (b"0", b"")) or name == b"transfer-encoding":
            return True
    return False


def refusal_closes(send: ASGISendCallable) -> ASGISendCallable:
    """A refused handshake (an HTTP answer instead of the upgrade) ends its connection: Hypercorn
    0.18 fails on bytes a client sends after one (a traceback per refusal)."""

    async def sending(message: Any) -> None:
        if message["type"] == "websocket.http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
        await send(message)

    return sending


class Guard:
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
                api = scope["path"] == "/api" or scope["path"].startswith("/api/")
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
