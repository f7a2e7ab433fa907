"""What each face's live-socket route calls, in order: ``subscription_asked`` during the handshake,
``handshake_failed`` when it fails unexpectedly, and ``serve`` once the socket is accepted.

The faces (app/site/live.py for ``/live``, app/api/live.py for ``/api/live``) own their routes and
their checks (the Origin, who the viewer is); these are the steps they share, between the worker's
extension (app/live/extension.py: its hub and its open sockets' slots) and one socket's protocol
and loop (app/live/socket.py).
"""

from __future__ import annotations

import logging

from quart import websocket

from app.domain import live as events
from app.infra.client_address import client_address
from app.infra.database import get_db, release_db
from app.infra.outages import busy, unavailable
from app.live.extension import get_live
from app.live.socket import Refused, Want, stream, want_from
from app.serving.admission import BUSY_MESSAGE

log = logging.getLogger("conduit.live")


async def subscription_asked(viewer_id: int | None) -> tuple[Want, list[str]]:
    """The subscription the handshake asks for and the socket slots it takes (Refused: 400, 401,
    404, 429). The face has checked the Origin and signed the viewer in; the database session
    this used is closed before the socket streams (it would hold a pooled connection)."""
    live, db = get_live(), get_db()
    try:
        want = await want_from(websocket.args, viewer_id,
                               lambda slug: events.article_id_of(db, slug),
                               lambda user_id: events.followed_ids(db, user_id))
    finally:
        await release_db()
    # Taken last, after every await: a client that leaves mid-handshake cannot strand a slot.
    address = client_address(live.settings.trusted_proxy_networks, websocket)
    return want, live.sockets.take(address, viewer_id)


def handshake_failed(error: Exception) -> Refused:
    """What a handshake that failed unexpectedly is answered (Quart's error pages are for
    requests): 503 when the database or Redis cannot serve just now, else a logged 500."""
    if busy(error):
        return Refused(503, "server", BUSY_MESSAGE)
    which = unavailable(error)
    if which is not None:
        return Refused(503, which, "is unavailable just now: try again shortly")
    log.exception("live: a socket's handshake failed")
    return Refused(500, "server", "could not open the socket")


async def serve(want: Want, held: list[str], subprotocol: str | None = None) -> None:
    """Stream the subscription until the socket closes; give its slots back."""
    live = get_live()
    try:
        await stream(live.hub, want, live.settings.live_ping_seconds, subprotocol)
    finally:
        live.sockets.give_back(held)
