"""Per-request deadlines: ``Conduit``, the Quart app class, gives each request
``CONDUIT_REQUEST_DEADLINE`` seconds from its hooks to its view's answer. Past it the work is
cancelled where it stands (a statement waiting on the database, a pooled connection awaited, a
password hash queued) and the client gets ``503`` with ``Retry-After``, rather than an answer after
it has given up. Teardown runs as always: the request's session is closed and whatever it left
uncommitted rolled back.

A client that gives up earlier and closes its connection stops the work at once: Hypercorn tells
the app (``http.disconnect``) and Quart cancels the view (tests/serving/test_overload.py proves
both).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from quart import Quart, g, request
from quart.typing import ResponseTypes

from app.observe.record import CURRENT

DEADLINE_SUBJECT = "request"
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def route_template(rule: str) -> str:
    """``/api/articles/<slug:slug>`` as ``/api/articles/{slug}``: what logs and metrics call it."""
    return _CONVERTER.sub(r"{\1}", rule)


def note_route_and_user() -> None:
    """The access line's route and user (app/observe): known once the hooks and view ran."""
    record = CURRENT.get()
    if record is None:
        return
    rule = request.url_rule
    record.route = route_template(rule.rule) if rule is not None else None
    user = g.get("user")
    record.user_id = getattr(user, "id", None)


class Conduit(Quart):
    async def full_dispatch_request(self, request_context: Any = None) -> ResponseTypes:
        seconds = self.config["CONDUIT"].request_deadline
        try:
            async with asyncio.timeout(seconds) as deadline:
                return await super().full_dispatch_request(request_context)
        except TimeoutError:
            if not deadline.expired():
                raise
        finally:
            note_route_and_user()
        from app.errors import error_response  # the error pages need the app built first

        self.logger.warning("deadline: %s %s cancelled after %s s", request.method, request.path,
                            seconds)
        response = await error_response(
            503, "Service Unavailable",
            f"{DEADLINE_SUBJECT} took longer than {seconds} seconds; try again in a few seconds")
        response.headers["Retry-After"] = "1"
        return await self.finalize_request(response, request_context, from_error_handler=True)
