"""Where an answer must say ``Connection: close`` because Hypercorn would otherwise end or break the
connection without telling the client: ``has_body`` (is a body still to be read) and
``refusal_closes`` (for refused WebSocket handshakes).

When the app answers before reading the request's body (a 401, 404, 405 or 413 to a POST),
Hypercorn drops the connection after the answer without saying so, and a client's next request on
it gets nothing: the ASGI guard (app/serving/guard.py) notes whether the body was read and says
``Connection: close`` on such an answer, so the client knows to open a new connection. (Reading the
rest of the body instead does not work: Hypercorn decides at the end of the answer, and a body
still on its way is not delivered before that.) A refused handshake gets the same header, for
another failure of Hypercorn 0.18's (see ``refusal_closes``).

These are not in app/serving/upstream_fixes.py: they patch nothing of Hypercorn's and only add a
header to what the app sends, so there is no patch to check against a Hypercorn release.
"""

from __future__ import annotations

from typing import Any

from hypercorn.typing import ASGISendCallable


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
