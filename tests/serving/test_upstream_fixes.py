"""Each fix of a dependency (app/serving/upstream_fixes.py) still applies, and is still needed: when
an upgrade fixes upstream, or changes what the fix touches, a test here fails and says which."""

from __future__ import annotations

import inspect
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.events import Event, RawData, Updated
from hypercorn.protocol.h2 import H2Protocol
from hypercorn.typing import ConnectionState
from quart import Blueprint, Quart

from app import create_app
from app.serving import upstream_fixes

pytestmark = pytest.mark.once  # dependencies' code: backend-independent


class Spawned:
    """A task group that records what it is asked to run (the send loop) instead of running it."""

    def __init__(self) -> None:
        self.tasks: list[Any] = []

    def spawn(self, function: Any, *args: Any) -> None:
        self.tasks.append(function)


async def _events_of_a_new_h2c_connection(initiate: Any) -> list[Event]:
    sent: list[Event] = []

    async def send(event: Event) -> None:
        sent.append(event)

    protocol = H2Protocol(None, Config(), WorkerContext(None), Spawned(),  # type: ignore[arg-type]
                          ConnectionState({}), False, ("127.0.0.1", 1), ("127.0.0.1", 2), send)
    await initiate(protocol)
    return sent


def test_hypercorn_is_the_line_the_h2c_fix_was_checked_on() -> None:
    # An upgrade past it (pyproject.toml pins it) must recheck the fix, then move this line.
    assert version("hypercorn").startswith(upstream_fixes.HYPERCORN_CHECKED)


async def test_hypercorn_still_leaves_a_new_h2c_connection_without_a_keep_alive_timer() -> None:
    upstream = getattr(H2Protocol.initiate, "__wrapped__", H2Protocol.initiate)
    sent = await _events_of_a_new_h2c_connection(upstream)
    assert any(isinstance(event, RawData) for event in sent)  # the server's preface: it ran
    # Upstream says nothing about idleness, so no timer starts: the fix is still needed.
    assert not any(isinstance(event, Updated) for event in sent)


async def test_the_h2c_fix_starts_the_keep_alive_timer_of_a_new_connection() -> None:
    upstream = getattr(H2Protocol.initiate, "__wrapped__", H2Protocol.initiate)
    assert list(inspect.signature(upstream).parameters) == ["self", "headers", "settings"]
    saved = H2Protocol.__dict__["initiate"]
    try:
        H2Protocol.initiate = upstream  # type: ignore[method-assign]
        assert upstream_fixes.close_idle_http2()
        sent = await _events_of_a_new_h2c_connection(H2Protocol.initiate)
    finally:
        H2Protocol.initiate = saved  # type: ignore[method-assign]
    assert [event.idle for event in sent if isinstance(event, Updated)] == [True]


def test_flask_still_gives_each_blueprint_a_thread_bound_context_processor() -> None:
    bare = Quart(__name__)
    bare.register_blueprint(Blueprint("plain", __name__))
    processors = [p for group in bare.template_context_processors.values() for p in group]
    flask_ones = [p for p in processors if upstream_fixes.is_flask_default_processor(p)]
    assert flask_ones, "Flask no longer adds its processor: drop is_flask_default_processor"
    assert not any(inspect.iscoroutinefunction(p) for p in flask_ones)  # Quart would use a thread


def test_the_app_renders_with_async_context_processors_only(tmp_path: Path) -> None:
    app = create_app({"env": "testing", "database_url": f"sqlite+aiosqlite:///{tmp_path}/f.db"})
    processors = [p for group in app.template_context_processors.values() for p in group]
    assert processors and all(inspect.iscoroutinefunction(p) for p in processors)
