"""Where a dependency misbehaves and no public API helps: each fix names the release line it was
checked against, is applied only there (elsewhere it logs why not), and tests/serving/
test_upstream_fixes.py fails both when the fix stops applying and when upstream no longer needs it.
"""

from __future__ import annotations

import logging
from importlib.metadata import version

from quart import Quart

log = logging.getLogger(__name__)

# The Hypercorn line close_idle_http2 was checked against (pyproject.toml pins it to this line).
HYPERCORN_CHECKED = "0.18."


def close_idle_http2() -> bool:
    """Hypercorn 0.18 starts no keep-alive timer on a cleartext HTTP/2 connection (h2c): one that
    sent only the preface, or went quiet after its requests, was held forever (500 such
    connections were all open after 120 s). Say the new connection is idle when it is, as an
    HTTP/1.1 one does: the keep-alive timeout then closes it, and a request stops the timer.

    No upstream report was found (pgjones/hypercorn#51 is the opposite case: the HTTP/1 timer
    closing a connection upgraded to h2). True when the fix is in place.
    """
    from hypercorn.events import Updated
    from hypercorn.protocol.h2 import H2Protocol

    original = H2Protocol.initiate
    if getattr(original, "closes_when_idle", False):
        return True
    installed = version("hypercorn")
    if not installed.startswith(HYPERCORN_CHECKED):
        log.warning("Hypercorn %s: the idle HTTP/2 fix was checked on %sx only and is not applied; "
                    "run tests/serving/test_upstream_fixes.py", installed, HYPERCORN_CHECKED)
        return False

    async def initiate(self: H2Protocol, headers: list[tuple[bytes, bytes]] | None = None,
                       settings: bytes | None = None) -> None:
        await original(self, headers, settings)
        await self.send(Updated(idle=self.idle))

    initiate.closes_when_idle = True  # type: ignore[attr-defined]
    initiate.__wrapped__ = original  # type: ignore[attr-defined]
    H2Protocol.initiate = initiate  # type: ignore[method-assign]
    return True


def is_flask_default_processor(processor: object) -> bool:
    """Flask's scaffold gives every blueprint Flask's default template context processor (``g``,
    ``request``, ``session``): a plain function, which Quart runs in a worker thread on every render
    of that blueprint's page, while Quart's own async one, app-wide, gives the same names. Known by
    its public ``__module__`` (no private import). No upstream report was found (pallets/quart)."""
    return getattr(processor, "__module__", None) == "flask.templating"


def drop_flask_context_processor(app: Quart) -> None:
    """Drop Flask's default processor from every blueprint of ``app`` (``create_app`` calls it)."""
    for processors in app.template_context_processors.values():
        processors[:] = [p for p in processors if not is_flask_default_processor(p)]
