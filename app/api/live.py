"""``/api/live``: the live events over WebSocket for API clients (the protocol: app/live/socket.py).

Signed in by the same ``Authorization: Token <jwt>`` header as the rest of the API (optional, but
``feed=yours`` needs it); a browser, which cannot set that header on a WebSocket, offers the token
as a subprotocol instead: ``new WebSocket(url, ["conduit.token", token])``. Origins are checked as
CORS checks them (``CONDUIT_CORS_ORIGINS``). A refused handshake gets an HTTP answer with the API's
error body: 400, 401, 403, 404 or 429.
"""

from __future__ import annotations

from quart import Response, websocket

from app.api.common import ApiError, account_for, blueprint, errors_response, settings
from app.db import get_db, release_db
from app.domain import live as events
from app.limiter import client_address
from app.live import get_live
from app.live.socket import Refused, origin_allowed, stream, want_from

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
    conf, extension = settings(), get_live()
    try:
        if not origin_allowed(conf.cors_origin_list):
            raise Refused(403, "origin", "is not allowed to open live sockets here")
        header, viewer = offered_token(), None
        subprotocol = SUBPROTOCOL if header and "Authorization" not in websocket.headers else None
        if header is not None:
            viewer, _token = await account_for(header)
        viewer_id = viewer.id if viewer else None
        db = get_db()
        want = await want_from(websocket.args, viewer_id,
                               lambda slug: events.article_id_of(db, slug),
                               lambda user_id: events.followed_ids(db, user_id))
        held = extension.sockets.take(client_address(conf.trusted_proxy_networks, websocket),
                                      viewer_id)
    except ApiError as error:
        return errors_response(error.status, error.errors)
    except Refused as refused:
        return errors_response(refused.status, refused.errors)
    finally:
        await release_db()
    try:
        await stream(extension.hub, want, conf.live_ping_seconds, subprotocol)
    finally:
        extension.sockets.give_back(held)
    return None
