"""ASGI middleware for what Quart cannot answer itself: it would fail before any error handler
runs, and the server would send an empty 500.

- a Host header Werkzeug cannot bind to (``a..b``, a 64-letter label): 400;
- a WebSocket handshake (the app serves none; Quart's error handlers expect a request): 403.
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


class RefuseBeforeQuart:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] == "websocket":
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
                    (b"content-type", kind), (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
        await self.app(scope, receive, send)
