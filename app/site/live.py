"""``/live``: the site's live socket (the protocol: app/live/socket.py), which its pages' script
opens. Signed in by the session cookie, which a browser sends to any site's socket: the Origin
must therefore be this site's own (a page elsewhere cannot read a reader's feed). A refused
handshake is answered with its HTTP status and one line."""

from __future__ import annotations

from quart import Response, websocket

from app.db import get_db, release_db
from app.domain import live as events
from app.limiter import client_address
from app.live import get_live
from app.live.socket import Refused, origin_allowed, stream, want_from
from app.site import blueprint
from app.site.common import current_user, load_signed_in_user


@blueprint.websocket("/live")
async def live() -> Response | None:
    extension = get_live()
    settings = extension.settings
    try:
        if not origin_allowed([]):
            raise Refused(403, "origin", "is not this site")
        await load_signed_in_user()
        viewer = current_user()
        viewer_id = viewer.id if viewer else None
        db = get_db()
        want = await want_from(websocket.args, viewer_id,
                               lambda slug: events.article_id_of(db, slug),
                               lambda user_id: events.followed_ids(db, user_id))
        held = extension.sockets.take(client_address(settings.trusted_proxy_networks, websocket),
                                      viewer_id)
    except Refused as refused:
        field, [message] = next(iter(refused.errors.items()))
        return Response(f"{refused.status}: {field} {message}\n", status=refused.status,
                        content_type="text/plain; charset=utf-8")
    finally:
        await release_db()
    try:
        await stream(extension.hub, want, settings.live_ping_seconds)
    finally:
        extension.sockets.give_back(held)
    return None
