"""What each part of the app counts in /metrics, in-process: the pool (in use, waiting, wait
time), live sockets (open, events delivered, cut and why), requests refused as busy, rate-limit
refusals by rule. tests/serving/test_metrics.py proves the whole across workers of a real server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from quart import Quart
from quart.testing.connections import WebsocketDisconnectError
from sqlalchemy import text

from app import create_app
from app.infra.database import get_database
from app.infra.setting_values import networks
from app.live.socket import BAD_MESSAGE
from app.observe.layer import peer_in
from tests.live.test_live import WAIT_S, next_event
from tests.support.api import new_article, register
from tests.support.metrics import figure


async def until(condition: Callable[[], bool]) -> None:
    """Wait for what the server does after the client has its answer (a closed socket's cleanup)."""
    async with asyncio.timeout(WAIT_S * 4):
        while not condition():  # noqa: ASYNC110 (a figure, not an event to wait on)
            await asyncio.sleep(0.01)


@pytest.fixture
async def one_connection(database_url: str) -> AsyncIterator[Quart]:
    application = create_app({"env": "testing", "database_url": database_url, "pool_size": 1})
    async with application.test_app():
        yield application


async def test_the_pool_counts_what_is_in_use_and_who_waits(one_connection: Quart) -> None:
    engine = get_database(one_connection).engine
    assert engine is not None
    transport = httpx.ASGITransport(app=one_connection)  # type: ignore[arg-type]
    in_use, waits = figure("conduit_db_pool_in_use"), figure("conduit_db_pool_wait_seconds_count")
    async with httpx.AsyncClient(transport=transport, base_url="http://conduit.test") as http:
        async with engine.connect() as held:  # the pool's one connection
            await held.execute(text("SELECT 1"))
            assert figure("conduit_db_pool_in_use") == in_use + 1
            waiting = figure("conduit_db_pool_waiting")
            request = asyncio.create_task(http.get("/api/articles"))
            await until(lambda: figure("conduit_db_pool_waiting") == waiting + 1)
        assert (await request).status_code == 200
    assert figure("conduit_db_pool_waiting") == waiting
    assert figure("conduit_db_pool_in_use") == in_use
    assert figure("conduit_db_pool_wait_seconds_count") >= waits + 2


async def test_a_wait_for_the_pool_that_runs_out_is_counted(database_url: str) -> None:
    """The worst waits are those that end in a 503: they are in the histogram too."""
    application = create_app({"env": "testing", "database_url": database_url, "pool_size": 1,
                              "db_timeout": 1})
    async with application.test_app():
        engine = get_database(application).engine
        assert engine is not None
        transport = httpx.ASGITransport(app=application)  # type: ignore[arg-type]
        waits = figure("conduit_db_pool_wait_seconds_count")
        waited = figure("conduit_db_pool_wait_seconds_sum")
        async with httpx.AsyncClient(transport=transport, base_url="http://conduit.test") as http, \
                engine.connect() as held:
            await held.execute(text("SELECT 1"))
            assert (await http.get("/api/articles")).status_code == 503  # no connection in 1 s
        assert figure("conduit_db_pool_wait_seconds_count") >= waits + 1
        assert figure("conduit_db_pool_wait_seconds_sum") - waited >= 0.9  # the timeout, at least


async def test_live_sockets_are_counted_open_fed_and_cut(client: Any, http: httpx.AsyncClient) -> None:
    token = await register(http, "broadcaster")
    opened = figure("conduit_live_subscribers")
    delivered = figure("conduit_live_events_delivered_total")
    cut = figure("conduit_live_sockets_cut_total", reason="bad_message")
    async with client.websocket("/api/live?feed=global") as ws:
        await next_event(ws)  # the hello: subscribed
        assert figure("conduit_live_subscribers") == opened + 1
        await new_article(http, token)
        assert (await next_event(ws))["type"] == "article.created"
        assert figure("conduit_live_events_delivered_total") == delivered + 1
        await ws.send('{"type":"ping"}')
        assert json.loads(await asyncio.wait_for(ws.receive(), WAIT_S)) == {"type": "pong"}
        assert figure("conduit_live_events_delivered_total") == delivered + 1  # a pong is no event
        await ws.send("hello")
        with pytest.raises(WebsocketDisconnectError) as closed:
            while True:
                await asyncio.wait_for(ws.receive(), WAIT_S)
        assert closed.value.args[0] == BAD_MESSAGE
    await until(lambda: figure("conduit_live_subscribers") == opened)
    assert figure("conduit_live_sockets_cut_total", reason="bad_message") == cut + 1



def test_an_ipv4_peer_on_a_dual_stack_bind_is_matched_as_ipv4() -> None:
    """A server bound to [::] sees a loopback scrape as ::ffff:127.0.0.1: still this machine."""
    allowed = networks("127.0.0.1,::1")
    assert peer_in({"client": ("::ffff:127.0.0.1", 1234)}, allowed)
    assert peer_in({"client": ("::1", 1234)}, allowed)
    assert not peer_in({"client": ("::ffff:10.0.0.1", 1234)}, allowed)
    assert not peer_in({"client": None}, allowed)
