"""Live sockets in-process (Quart's test client, through the ASGI guard): what a subscription is
sent, replay and reload, and every handshake or message that is refused, with its status or code."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from quart import Quart
from quart.testing.connections import WebsocketDisconnectError, WebsocketResponseError
from sqlalchemy import delete, func, select

from app import create_app
from app.infra.database import get_database
from app.live.socket import BAD_MESSAGE, NO_PONG, TOO_BIG
from app.models import LiveEvent
from tests.support.api import PASSWORD, auth, new_article, register

WAIT_S = 5.0


async def next_event(ws: Any) -> dict[str, Any]:
    """The next message that is not a heartbeat."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.receive(), WAIT_S))
        if message["type"] != "ping":
            return message  # type: ignore[no-any-return]


async def refused(client: Any, path: str, **kwargs: Any) -> tuple[int, str]:
    """The HTTP status and body a refused handshake gets (fails if it is accepted)."""
    with pytest.raises(WebsocketResponseError) as caught:
        async with client.websocket(path, **kwargs) as ws:
            await asyncio.wait_for(ws.receive(), WAIT_S)
    response = caught.value.response
    return response.status_code, (await response.get_data(as_text=True))


async def test_a_subscriber_gets_comments_favorites_and_deletions_in_order(
        app: Quart, client: Any, http: httpx.AsyncClient) -> None:
    token = await register(http, "writer")
    slug = (await new_article(http, token))["slug"]
    other = (await new_article(http, token, title="Another one"))["slug"]
    async with client.websocket(f"/api/live?article={slug}") as ws:
        hello = await next_event(ws)
        assert hello["type"] == "hello" and hello["seq"] >= 2
        made = await http.post(f"/api/articles/{slug}/comments", json={"comment": {"body": "First!"}},
                               headers=auth(token))
        await http.post(f"/api/articles/{other}/comments", json={"comment": {"body": "elsewhere"}},
                        headers=auth(token))  # not this subscription's
        await http.post(f"/api/articles/{slug}/favorite", headers=auth(token))
        await http.post(f"/api/articles/{slug}/favorite", headers=auth(token))  # no change: no event
        comment_id = made.json()["comment"]["id"]
        await http.delete(f"/api/articles/{slug}/comments/{comment_id}", headers=auth(token))
        got = [await next_event(ws) for _ in range(3)]
    assert [event["type"] for event in got] == ["comment.created", "article.favorited", "comment.deleted"]
    assert got[0]["comment"]["body"] == "First!" and got[0]["comment"]["author"]["username"] == "writer"
    assert got[0]["comment"]["author"]["following"] is False
    assert got[1]["article"]["favoritesCount"] == 1 and got[1]["by"] == {"username": "writer"}
    assert got[1]["article"]["favorited"] is False  # as a stranger sees it
    assert got[2]["comment"] == {"id": comment_id}
    seqs = [event["seq"] for event in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3 and seqs[0] > hello["seq"]


async def test_feeds_are_told_of_the_articles_their_filter_shows(client: Any,
                                                                 http: httpx.AsyncClient) -> None:
    author, reader = await register(http, "author"), await register(http, "reader")
    await register(http, "stranger")
    await http.post("/api/profiles/author/follow", headers=auth(reader))
    async with client.websocket("/api/live?feed=global") as everything, \
            client.websocket("/api/live?feed=global&tag=dragons") as dragons, \
            client.websocket("/api/live?feed=yours", headers=auth(reader)) as yours:
        for ws in (everything, dragons, yours):
            assert (await next_event(ws))["type"] == "hello"
        stranger = (await http.post("/api/users/login", json={"user": {
            "email": "stranger@example.test", "password": "password123"}})).json()["user"]["token"]
        await new_article(http, stranger, title="Cats", tagList=["cats"])
        await new_article(http, author, title="Dragons", tagList=["dragons"])
        assert [(await next_event(everything))["article"]["title"] for _ in range(2)] == ["Cats", "Dragons"]
        assert (await next_event(dragons))["article"]["title"] == "Dragons"
        assert (await next_event(yours))["article"]["title"] == "Dragons"


async def test_reconnecting_with_the_last_seq_replays_what_was_missed(
        app: Quart, client: Any, http: httpx.AsyncClient) -> None:
    token = await register(http, "writer")
    slug = (await new_article(http, token))["slug"]
    async with client.websocket(f"/api/live?article={slug}") as ws:
        await next_event(ws)
        await http.post(f"/api/articles/{slug}/comments", json={"comment": {"body": "seen"}},
                        headers=auth(token))
        last = (await next_event(ws))["seq"]
    for n in range(3):  # while the client is away
        await http.post(f"/api/articles/{slug}/comments", json={"comment": {"body": f"missed {n}"}},
                        headers=auth(token))
    async with client.websocket(f"/api/live?article={slug}&after={last}") as ws:
        assert await next_event(ws) == {"type": "hello", "seq": last, "ping": 20}
        replayed = [await next_event(ws) for _ in range(3)]
        assert [e["comment"]["body"] for e in replayed] == ["missed 0", "missed 1", "missed 2"]
        await http.post(f"/api/articles/{slug}/comments", json={"comment": {"body": "live again"}},
                        headers=auth(token))
        assert (await next_event(ws))["comment"]["body"] == "live again"

    engine = get_database(app).engine
    assert engine is not None
    async with engine.begin() as conn:  # as if the log had been pruned past the client's number
        newest = int(await conn.scalar(select(func.max(LiveEvent.seq))) or 0)
        await conn.execute(delete(LiveEvent).where(LiveEvent.seq < newest))
    async with client.websocket(f"/api/live?article={slug}&after={last}") as ws:
        assert await next_event(ws) == {"type": "reload", "seq": newest, "ping": 20}
    async with client.websocket(f"/api/live?article={slug}&after={newest + 100}") as ws:
        assert (await next_event(ws))["type"] == "reload"  # a number from another database


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/api/live", 400, "give either article=<slug> or feed=global|yours"),
    ("/api/live?article=a&feed=global", 400, "give either"),
    ("/api/live?feed=everything", 400, "must be global or yours"),
    ("/api/live?feed=global&after=-1", 400, "must be the number of the last event"),
    ("/api/live?feed=global&after=99999999999999999999", 400, "must be the number"),
    ("/api/live?feed=global&after=%C2%B2", 400, "must be the number"),  # "²" is a digit to isdigit()
    ("/api/live?feed=global&colour=red", 400, "is not a live parameter"),
    ("/api/live?article=no-such-article", 404, "not found"),
    ("/api/live?feed=yours", 401, "yours needs you signed in"),
    ("/live?feed=yours", 401, "yours needs you signed in"),
])
async def test_a_subscription_that_cannot_be_is_refused_with_its_status(
        client: Any, path: str, status: int, words: str) -> None:
    got, body = await refused(client, path)
    assert got == status and words in body


async def test_a_bad_or_revoked_token_is_refused(client: Any, http: httpx.AsyncClient) -> None:
    changer = await register(http, "someone")
    token = (await http.post("/api/users/login", json={"user": {  # another of the account's tokens
        "email": "someone@example.test", "password": PASSWORD}})).json()["user"]["token"]
    assert (await refused(client, "/api/live?feed=global", headers={"Authorization": "Token nope"}))[0] == 401
    await http.put("/api/user", json={"user": {"password": "a new password 123"}}, headers=auth(changer))
    status, body = await refused(client, "/api/live?feed=global", headers=auth(token))
    assert status == 401 and "revoked" in body
    fresh = (await http.post("/api/users/login", json={"user": {
        "email": "someone@example.test", "password": "a new password 123"}})).json()["user"]["token"]
    offered = {"subprotocols": ["conduit.token", fresh]}  # (the test client drops subprotocols=)
    async with client.websocket("/api/live?feed=yours", scope_base=offered) as ws:
        assert (await next_event(ws))["type"] == "hello"  # a browser offers it as a subprotocol


async def test_another_sites_origin_is_refused(client: Any) -> None:
    evil = {"Origin": "https://evil.example"}
    status, body = await refused(client, "/live?feed=global", headers=evil)
    assert status == 403 and "origin" in body
    async with client.websocket("/live?feed=global", headers={"Origin": "http://localhost"}) as ws:
        assert (await next_event(ws))["type"] == "hello"  # the site's own


@pytest.fixture
async def strict_app(database_url: str) -> AsyncIterator[Quart]:
    """An app with small limits: two sockets an address, one a user, a heartbeat each second,
    and API origins listed."""
    application = create_app({"env": "testing", "database_url": database_url,
                              "live_sockets_per_address": 2, "live_sockets_per_user": 1,
                              "live_ping_seconds": 1, "cors_origins": "https://app.example"})
    async with application.test_app():
        yield application


async def test_api_origins_are_the_cors_origins(strict_app: Quart) -> None:
    client = strict_app.test_client()
    status, _ = await refused(client, "/api/live?feed=global", headers={"Origin": "https://evil.example"})
    assert status == 403
    async with client.websocket("/api/live?feed=global", headers={"Origin": "https://app.example"}) as ws:
        assert (await next_event(ws))["type"] == "hello"


async def test_open_sockets_are_limited_per_address_and_per_user(strict_app: Quart) -> None:
    client = strict_app.test_client()
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=strict_app),  # type: ignore[arg-type]
                             base_url="http://conduit.test")
    token = await register(http, "greedy")
    async with client.websocket("/api/live?feed=yours", headers=auth(token)) as first:
        await next_event(first)
        status, body = await refused(client, "/api/live?feed=global", headers=auth(token))
        assert status == 429 and "for your account" in body
        async with client.websocket("/api/live?feed=global") as second:
            await next_event(second)
            status, body = await refused(client, "/api/live?feed=global")
            assert status == 429 and "from your address" in body
    async with client.websocket("/api/live?feed=global") as again:  # closed ones are given back
        assert (await next_event(again))["type"] == "hello"
    await http.aclose()


async def test_heartbeats_close_a_client_that_does_not_answer(strict_app: Quart) -> None:
    client = strict_app.test_client()
    async with client.websocket("/api/live?feed=global") as answering, \
            client.websocket("/api/live?feed=global") as silent:
        for ws in (answering, silent):
            await next_event(ws)
        for _ in range(3):
            assert json.loads(await asyncio.wait_for(answering.receive(), WAIT_S)) == {"type": "ping"}
            await answering.send('{"type":"pong"}')
        assert json.loads(await asyncio.wait_for(silent.receive(), WAIT_S)) == {"type": "ping"}
        with pytest.raises(WebsocketDisconnectError) as closed:
            await asyncio.wait_for(silent.receive(), WAIT_S)
        assert closed.value.args[0] == NO_PONG


@pytest.mark.parametrize(("message", "code"), [
    ("x" * 5000, TOO_BIG), ("hello", BAD_MESSAGE), ('{"type":"subscribe"}', BAD_MESSAGE),
    ("[]", BAD_MESSAGE)])
async def test_a_message_that_is_not_a_pong_closes_with_its_code(client: Any, message: str,
                                                                 code: int) -> None:
    async with client.websocket("/api/live?feed=global") as ws:
        await next_event(ws)
        await ws.send(message)
        with pytest.raises(WebsocketDisconnectError) as closed:
            while True:
                await asyncio.wait_for(ws.receive(), WAIT_S)
        assert closed.value.args[0] == code


async def test_a_ping_from_the_client_is_answered(client: Any) -> None:
    async with client.websocket("/api/live?feed=global") as ws:
        await next_event(ws)
        await ws.send('{"type":"ping"}')
        assert json.loads(await asyncio.wait_for(ws.receive(), WAIT_S)) == {"type": "pong"}


async def test_a_database_that_cannot_be_reached_answers_the_handshake_503() -> None:
    nowhere = "postgresql+asyncpg://postgres@/conduit?host=/nonexistent-socket-folder"
    application = create_app({"env": "testing", "database_url": nowhere, "db_timeout": 1,
                              "redis_url": "redis://127.0.0.1:6379/0"})
    async with application.test_app():
        status, body = await refused(application.test_client(), "/api/live?article=anything")
        assert status == 503 and "database" in body
        status, body = await refused(application.test_client(), "/live?article=anything")
        assert status == 503 and "database" in body
