"""``/api/live``: the live events over WebSocket for API clients (the protocol: app/live/socket.py).

Signed in by the same ``Authorization: Token <jwt>`` header as the rest of the API (optional, but
``feed=yours`` needs it); a browser, which cannot set that header on a WebSocket, offers the token
as a subprotocol instead: ``new WebSocket(url, ["conduit.token", token])``. Origins are checked as
CORS checks them (``CONDUIT_CORS_ORIGINS``). A refused handshake gets an HTTP answer with the API's
error body: 400, 401, 403, 404 or 429.
"""

from __future__ import annotations

from quart import Response, websocket

from app.api import blueprint
from app.api.auth import account_for, settings
from app.api.errors import ApiError, errors_response
from app.infra.database import release_db
from app.live import handshake_failed, serve, subscription_asked
from app.live.socket import Refused, origin_allowed

SUBPROTOCOL = "conduit.token"


def offered_token() -> str | None:
    """``Authorization: Token <jwt>``, or the token a browser offered as the second subprotocol."""
    header = websocket.headers.get("Authorization")
    if header is not None:
        return header
    offered = websocket.requested_subprotocols
    if len(offered) == 2 and offered[0] == SUBPROTOCOL:
        return f"Token {offered[1]}"
    return None


@blueprint.websocket("/live")
async def live() -> Response | None:
    try:
        if not origin_allowed(settings().cors_origin_list):
            raise Refused(403, "origin", "is not allowed to open live sockets here")
        header, viewer_id = offered_token(), None
        if header is not None:
            viewer_id = (await account_for(header))[0].id
        want, held = await subscription_asked(viewer_id)
    except Exception as error:  # every failure is answered, never a trace
        await release_db()
        refused = error if isinstance(error, ApiError | Refused) else handshake_failed(error)
        return errors_response(refused.status, refused.errors)
    subprotocol = SUBPROTOCOL if header and "Authorization" not in websocket.headers else None
    await serve(want, held, subprotocol)
    return None
