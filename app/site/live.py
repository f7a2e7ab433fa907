"""``/live``: the site's live socket (the protocol: app/live/socket.py), which its pages' script
opens. Signed in by the session cookie, which a browser sends to any site's socket: the Origin
must therefore be this site's own (a page elsewhere cannot read a reader's feed). A refused
handshake is answered with its HTTP status and one line."""

from __future__ import annotations

from quart import Response

from app.infra.database import release_db
from app.live import handshake_failed, serve, subscription_asked
from app.live.socket import Refused, origin_allowed
from app.site import blueprint
from app.site.signed_in import current_user, load_signed_in_user


@blueprint.websocket("/live")
async def live() -> Response | None:
    try:
        if not origin_allowed([]):
            raise Refused(403, "origin", "is not this site")
        await load_signed_in_user()
        viewer = current_user()
        want, held = await subscription_asked(viewer.id if viewer else None)
    except Exception as error:  # every failure is answered, never a trace
        await release_db()
        refused = error if isinstance(error, Refused) else handshake_failed(error)
        field, [message] = next(iter(refused.errors.items()))
        return Response(f"{refused.status}: {field} {message}\n", status=refused.status,
                        content_type="text/plain; charset=utf-8")
    await serve(want, held)
    return None
