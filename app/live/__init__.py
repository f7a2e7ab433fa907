"""Live updates over WebSocket: the event log's readers (hub.py), their doorbells (carriers.py)
and the socket loop both faces share (socket.py). The site serves ``/live`` (its session cookie),
the API ``/api/live`` (its token); each face owns its route and its checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from quart import Quart, current_app, websocket
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.domain import live as events
from app.domain.live import COMMITTED
from app.infra.database import get_db, release_db
from app.infra.outages import unavailable
from app.infra.rate_limits import client_address
from app.infra.settings import Settings
from app.live.hub import Hub
from app.live.socket import Refused, Sockets, Want, stream, want_from

log = logging.getLogger("conduit.live")
EXTENSION_KEY = "conduit.live"
SHUTDOWN_CHECK_S = 0.2


class Live:
    """Flask-style extension: the worker's hub and its count of open sockets."""

    def init_app(self, app: Quart, settings: Settings, engine: Any) -> None:
        app.extensions[EXTENSION_KEY] = self
        self.settings = settings
        self.hub = Hub(settings)
        self.sockets = Sockets(settings.live_sockets_per_address, settings.live_sockets_per_user)

        @app.before_serving
        async def _start_hub() -> None:
            await self.hub.start(engine())
            self.watch = asyncio.create_task(watch_for_shutdown(self.hub))

        @app.after_serving
        async def _stop_hub() -> None:
            self.watch.cancel()
            with contextlib.suppress(BaseException):
                await self.watch
            await self.hub.stop()


def get_live(app: Quart | None = None) -> Live:
    live: Live = (app or current_app).extensions[EXTENSION_KEY]
    return live


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


async def watch_for_shutdown(hub: Hub) -> None:
    """Hypercorn tells the app nothing until its graceful wait is over, which open sockets would
    fill: the supervisor's shutdown flag is watched instead, and every socket told 1001 at once."""
    from app.serving.supervisor import shutting_down

    while True:  # the flag lives in another process: it cannot be awaited
        await asyncio.sleep(SHUTDOWN_CHECK_S)
        if shutting_down():
            hub.going_away()
            return


@event.listens_for(Session, "after_commit")
def _event_committed(session: Session) -> None:
    """A write that recorded an event rings its own worker's hub (and, with Redis, the others)."""
    seq = session.info.pop(COMMITTED, None)
    if seq is None:
        return
    with contextlib.suppress(LookupError, RuntimeError):  # outside a request: a CLI command, a test
        get_live().hub.committed(seq)


@event.listens_for(Session, "after_rollback")
def _event_rolled_back(session: Session) -> None:
    session.info.pop(COMMITTED, None)
