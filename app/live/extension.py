"""The live updates' Flask-style extension: ``Live`` (the worker's hub and its count of open sockets),
``get_live``, and the database session hooks that ring the hub when a write recorded an event.

The hub starts with the app and stops with it; while it runs, the supervisor's shutdown flag is
watched (``watch_for_shutdown``), because Hypercorn would tell the app only after its graceful wait,
which open sockets fill. The session hooks are registered when this module is imported (app.live
imports it), for every session: a commit that recorded an event wakes this worker's hub at once
instead of at its next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from quart import Quart, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.domain.live import COMMITTED
from app.infra.settings import Settings
from app.live.hub import Hub
from app.live.socket import Sockets

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
