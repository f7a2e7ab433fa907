"""The lab's socket: hundreds at once on one worker, each with its own context for its whole life;
what its background jobs see; bad input closed with a code; the twin's long-poll held by threads."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page
from quart.testing import QuartClient
from quart.testing.connections import WebsocketDisconnectError, WebsocketResponseError

from app.contexts import sockets
from tests.lab.test_contexts_twin import THREADS, twin
from tests.support.lab import documented_table, new_token

pytestmark = pytest.mark.once  # the contexts lab: backend-independent

__all__ = ["twin"]  # the twin fixture (gunicorn gthread, THREADS threads), shared with that module

SOCKETS = 300
ROUNDS = 3
SOCKET_TABLE_HEADER = "| started from a socket with |"
TABLE_WORDS: dict[str, Any] = {"the token": "TOKEN", "empty": None, "yes": True, "no": False,
                               "the socket's own": "the socket's own", "a copy": "a copy"}
TABLE_COLUMNS = ("g", "g_is_the_sockets", "websocket", "contextvar", "websocket_context")


def documented_socket_table() -> dict[str, dict[str, Any]]:
    """docs/contexts.md's table of what a socket's background jobs see, {job: {key: value}}."""
    return documented_table(SOCKET_TABLE_HEADER, TABLE_WORDS, TABLE_COLUMNS)


def ws_url(base: str, token: str) -> str:
    return f"{base.replace('http://', 'ws://', 1)}/contexts/socket?token={token}"


@asynccontextmanager
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=0)  # every socket open at once
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as s:
        yield s


async def ask(ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> dict[str, Any]:
    await ws.send_str(json.dumps(message))
    answer: dict[str, Any] = json.loads(await ws.receive_str(timeout=60))
    return answer


async def test_300_sockets_keep_their_own_context_for_their_whole_life(live_server: str) -> None:
    tokens = [new_token() for _ in range(SOCKETS)]
    rng = random.Random(7)
    async with session() as client:
        conns = await asyncio.gather(*(client.ws_connect(ws_url(live_server, t)) for t in tokens))
        try:
            hellos = await asyncio.gather(*(ws.receive_json(timeout=60) for ws in conns))
            replies: list[list[dict[str, Any]]] = [[hello] for hello in hellos]
            for round_ in range(1, ROUNDS + 1):  # every socket speaks at once, random waits on the server

                async def speak(i: int, ws: aiohttp.ClientWebSocketResponse, round_: int = round_
                                ) -> dict[str, Any]:
                    return await ask(ws, {"say": f"{tokens[i]}:{round_}", "delay_ms": rng.randint(0, 200)})

                answers = await asyncio.gather(*(speak(i, ws) for i, ws in enumerate(conns)))
                for i, reply in enumerate(answers):
                    replies[i].append(reply)
            spawned = await asyncio.gather(*(ask(ws, {"spawn": True}) for ws in conns))
        finally:
            await asyncio.gather(*(ws.close() for ws in conns))

    for token, seen in zip(tokens, replies, strict=True):
        assert [reply["n"] for reply in seen] == list(range(ROUNDS + 1))
        for reply in seen:  # the handshake's token, read back at every message of the connection
            assert (reply["g"], reply["contextvar"], reply["websocket_arg"]) == (token, token, token), reply
        assert [reply["say"] for reply in seen[1:]] == [f"{token}:{r}" for r in range(1, ROUNDS + 1)]
        assert len({reply["task_id"] for reply in seen}) == 1  # one task for the socket's whole life
        assert all(reply["open"] >= SOCKETS for reply in seen[1:])  # all 300 were open at once
    everything = [reply for seen in replies for reply in seen]
    assert len({reply["pid"] for reply in everything}) == 1  # one Hypercorn worker
    assert len({reply["thread_id"] for reply in everything}) == 1  # ... one thread
    assert len({seen[0]["task_id"] for seen in replies}) == SOCKETS  # ... a task per socket
    in_flight = [reply["in_flight"] for seen in replies for reply in seen[1:]]
    assert max(in_flight) > 1  # messages of different sockets were mid-await together
    # Each socket's background jobs see that socket (its token), not one of the 299 others.
    for token, seen, report in zip(tokens, replies, spawned, strict=True):
        assert report["handler"]["task_id"] == seen[0]["task_id"]
        for job in report["jobs"].values():
            assert job["contextvar"] == job["websocket"] == token
    print(f"\n{SOCKETS} sockets x {ROUNDS} rounds: all isolated on 1 thread, "
          f"{SOCKETS} tasks, up to {max(in_flight)} messages mid-await at once")


async def test_background_jobs_from_a_socket_see_what_the_docs_say(live_server: str) -> None:
    token = new_token()
    table = documented_socket_table()
    assert set(table) == set(sockets.SOCKET_JOBS)
    async with session() as client, client.ws_connect(ws_url(live_server, token)) as ws:
        await ws.receive_json(timeout=30)
        report = await ask(ws, {"spawn": True})
        after = await ask(ws, {"say": "still there"})
    handler = report["handler"]
    assert (handler["g"], handler["g_is_the_sockets"], handler["websocket_context"]) == \
        (token, True, "the socket's own")
    for job, documented in table.items():
        seen = report["jobs"][job]
        assert seen is not None, f"{job} never reported"
        expected = {key: token if value == "TOKEN" else value for key, value in documented.items()}
        assert {key: seen[key] for key in documented} == expected, job
        assert seen["thread_id"] == handler["thread_id"]  # the same loop thread, another task
        assert seen["task_id"] != handler["task_id"]
    assert after["g"] == token  # the socket's g outlived its jobs


BAD_MESSAGES: list[tuple[str | bytes, int]] = [
    (b"\x00\x01", sockets.UNSUPPORTED),
    (json.dumps({"say": "x" * 600}), sockets.TOO_BIG),
    ("not json", sockets.BAD_MESSAGE),
    ("[1, 2]", sockets.BAD_MESSAGE),
    ('{"spawn": false}', sockets.BAD_MESSAGE),
    ('{"say": 5}', sockets.BAD_MESSAGE),
    ('{"say": "a", "extra": 1}', sockets.BAD_MESSAGE),
    (json.dumps({"say": "x" * 65}), sockets.BAD_MESSAGE),
    ('{"say": "a", "delay_ms": 1001}', sockets.BAD_MESSAGE),
    ('{"say": "a", "delay_ms": true}', sockets.BAD_MESSAGE),
    ('{"say": "a", "delay_ms": 1.5}', sockets.BAD_MESSAGE),
    ('{"say": "a", "delay_ms": ' + "9" * 5000 + "}", sockets.TOO_BIG),
]


@pytest.mark.parametrize(("message", "code"), BAD_MESSAGES)
async def test_a_bad_message_closes_the_socket_with_a_code_and_a_reason(live_server: str,
                                                                       message: str | bytes,
                                                                       code: int) -> None:
    async with session() as client, client.ws_connect(ws_url(live_server, new_token())) as ws:
        await ws.receive_json(timeout=30)
        await (ws.send_bytes(message) if isinstance(message, bytes) else ws.send_str(message))
        closing = await ws.receive(timeout=30)
        assert closing.type == aiohttp.WSMsgType.CLOSE, closing
        assert ws.close_code == code
        assert isinstance(closing.extra, str) and closing.extra  # a reason a person can read
    async with session() as client, client.ws_connect(ws_url(live_server, new_token())) as ws:
        await ws.receive_json(timeout=30)
        assert (await ask(ws, {"say": "after"}))["say"] == "after"  # the worker is fine


@pytest.mark.parametrize(("query", "headers", "status"), [
    ("", {}, 422),
    ("?token=", {}, 422),
    (f"?token={'x' * 65}", {}, 422),
    ("?token=abc", {"Origin": "https://evil.example"}, 403),
])
async def test_a_bad_handshake_is_answered_with_http_json(live_server: str, query: str,
                                                          headers: dict[str, str], status: int) -> None:
    url = f"{live_server.replace('http://', 'ws://', 1)}/contexts/socket{query}"
    async with session() as client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(url, headers=headers)
        assert refused.value.status == status
        async with client.ws_connect(ws_url(live_server, "fine"),
                                     headers={"Origin": live_server}) as ws:  # its own page may
            assert (await ws.receive_json(timeout=30))["g"] == "fine"


async def test_a_worker_refuses_sockets_beyond_its_limit(client: QuartClient,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sockets.open_sockets, "limit", sockets.open_sockets.count + 2)
    async with client.websocket("/contexts/socket?token=a") as first, \
            client.websocket("/contexts/socket?token=b") as second:
        assert (await first.receive_json())["g"] == "a"
        assert (await second.receive_json())["open"] == sockets.open_sockets.limit
        with pytest.raises(WebsocketResponseError) as refused:
            async with client.websocket("/contexts/socket?token=c") as third:
                await third.receive()
        assert refused.value.response.status_code == 503
        assert "sockets" in (await refused.value.response.get_json())["errors"]
    assert sockets.open_sockets.count == sockets.open_sockets.limit - 2  # both places given back
    async with client.websocket("/contexts/socket?token=d") as again:  # the places were given back
        assert (await again.receive_json())["g"] == "d"


async def test_an_idle_socket_is_closed(client: QuartClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sockets, "IDLE_S", 0.05)
    async with client.websocket("/contexts/socket?token=idle") as ws:
        await ws.receive_json()
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive()
    assert closed.value.args[0] == sockets.IDLE


async def _long_polls(base: str, count: int, ms: int) -> tuple[list[dict[str, Any]], list[float]]:
    """``count`` concurrent GET /contexts/wait?ms=; the answers and when each was sent."""
    async with session() as client:

        async def one() -> tuple[dict[str, Any], float]:
            sent = time.time()
            async with client.get(f"{base}/contexts/wait?ms={ms}") as response:
                assert response.status == 200, await response.text()
                body: dict[str, Any] = await response.json()
            return body, sent

        pairs = await asyncio.gather(*(one() for _ in range(count)))
    return [body for body, _ in pairs], [sent for _, sent in pairs]


async def test_the_twins_threads_hold_eight_long_polls_and_queue_the_rest(twin: str,
                                                                         live_server: str) -> None:
    count, ms = 40, 300
    threaded, sent = await _long_polls(twin, count, ms)
    looped, _ = await _long_polls(live_server, count, ms)
    assert max(answer["in_flight"] for answer in threaded) == THREADS  # never more held than threads
    assert len({answer["thread_id"] for answer in threaded}) == THREADS
    queued = [answer["started_at"] - at for answer, at in zip(threaded, sent, strict=True)]
    assert sum(delay >= ms / 1000 * 0.9 for delay in queued) >= count - THREADS  # waited for a thread
    assert max(answer["in_flight"] for answer in looped) > THREADS  # one thread held more than that
    print(f"\n{count} long-polls of {ms} ms: twin held at most {THREADS}, the last one queued "
          f"{max(queued):.2f} s; one Hypercorn worker held "
          f"{max(answer['in_flight'] for answer in looped)} at once")


async def test_the_lab_page_opens_sockets_and_shows_what_their_jobs_saw(page: Page, live_server: str) -> None:
    """In Chromium, under the page's Content-Security-Policy (connect-src 'self' covers ws:)."""
    await page.goto(f"{live_server}/contexts")
    await page.fill("#lab-socket-count", "40")
    await page.click("#lab-socket-run")
    await page.wait_for_selector('#contexts-lab[data-socket-state="done"]', timeout=60_000)

    async def cell(field: str) -> int:
        return int(await page.locator(f'#lab-socket-row [data-field="{field}"]').inner_text())

    assert (await cell("verified"), await cell("leaked"), await cell("failed")) == (120, 0, 0)
    assert (await cell("tasks"), await cell("threads")) == (40, 1)
    jobs = page.locator("#lab-socket-jobs tbody tr")
    assert await jobs.count() == 4
    create_task = page.locator('#lab-socket-jobs tr[data-job="create_task"] td')
    added = page.locator('#lab-socket-jobs tr[data-job="add_background_task"] td')
    assert await create_task.nth(1).inner_text() == "yes"  # the socket's own g
    assert (await added.nth(0).inner_text(), await added.nth(1).inner_text()) == ("—", "no")


async def test_every_lab_table_fits_a_1280_px_window(page: Page, live_server: str) -> None:
    """Before, the socket jobs' table needed a sideways scroll at 1280 px (1132 px in 1110)."""
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.goto(f"{live_server}/contexts")
    await page.click("#lab-socket-run")
    await page.wait_for_selector('#contexts-lab[data-socket-state="done"]', timeout=60_000)
    await page.click("#lab-background")
    await page.wait_for_selector('#contexts-lab[data-background-state="done"]', timeout=60_000)
    overflow = await page.evaluate("""() => [...document.querySelectorAll(".lab-results")]
        .filter((table) => table.scrollWidth > table.clientWidth).map((table) => table.id)""")
    assert overflow == []


async def test_wait_refuses_bad_input_with_422_on_both_servers(twin: str, live_server: str) -> None:
    async with session() as client:
        for base in (twin, live_server):
            for ms in ("x", "-1", "10001", "9" * 100, "%C2%B2"):
                async with client.get(f"{base}/contexts/wait?ms={ms}") as response:
                    assert response.status == 422, (base, ms)
                    assert set(await response.json()) == {"errors"}
