"""Live sockets on a real conduit-serve with two workers, on the suite's database, with and without
Redis: a write through either worker reaches subscribers on both, in order and once, under 200
concurrent writes; a reader that falls behind is cut off while the others go on; SIGTERM closes
every socket with 1001 while an HTTP request in flight still finishes."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from quart import Quart

from app.live.hub import GOING_AWAY, TOO_SLOW
from tests.conftest import ROOT
from tests.serving.test_rate_limits_live import _one_connection_per_worker
from tests.support.api import auth, new_article, register
from tests.support.servers import Server, free_port, running_server, wait_until_echo_in_flight

WAIT_S = 10.0


def serve(database_url: str, log: Path, **env: str) -> Any:
    port = free_port()
    # A minute's wait for a pooled connection: 200 writes at once queue for ten connections, and
    # on a busy machine (or beside another test) some waited past the 5 s default and got 503.
    # These tests are about delivery, not about when the pool gives up.
    environment = {**os.environ, "CONDUIT_ENV": "testing", "CONDUIT_DATABASE_URL": database_url,
                   "CONDUIT_DB_TIMEOUT": "60", **env}
    command = [sys.executable, "-m", "app.serving.serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    return running_server(command, probe=f"http://127.0.0.1:{port}/healthz", cwd=ROOT, env=environment,
                          log=log)


@pytest.fixture
def two_workers(app: Quart, database_url: str, shared_store: dict[str, str],
                tmp_path: Path) -> Iterator[str]:
    with serve(database_url, tmp_path / "serve.log", **shared_store) as server:
        yield server.url


class Subscriber:
    """One socket's received events (heartbeats answered)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            event = json.loads(message.data)
            if event["type"] == "ping":
                await self.ws.send_str('{"type":"pong"}')
            elif event["type"] != "hello":
                self.events.append(event)
                self.arrived.set()

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        async with asyncio.timeout(WAIT_S):
            while len(self.events) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.events


async def subscribe(session: aiohttp.ClientSession, url: str) -> Subscriber:
    ws = await session.ws_connect(url)
    hello = json.loads((await ws.receive(timeout=WAIT_S)).data)
    assert hello["type"] == "hello"
    return Subscriber(ws)


async def test_a_write_through_either_worker_reaches_subscribers_on_both(two_workers: str) -> None:
    base = two_workers.replace("http", "ws")
    workers = await _one_connection_per_worker(two_workers)  # a kept-alive connection to each
    token = await register(workers[0], "writer")
    slug = (await new_article(workers[0], token))["slug"]
    async with aiohttp.ClientSession() as session:
        # Eight sockets: the kernel spreads them over both workers (all on one: 1 in 128).
        subscribers = [await subscribe(session, f"{base}/api/live?article={slug}") for _ in range(8)]
        for n, worker in enumerate([*workers, *workers]):
            answer = await worker.post(f"/api/articles/{slug}/comments",
                                       json={"comment": {"body": f"via {n}"}}, headers=auth(token))
            assert answer.status_code == 201
        await workers[1].post(f"/api/articles/{slug}/favorite", headers=auth(token))
        received = [await sub.wait_for(5) for sub in subscribers]
    for client in workers:
        await client.aclose()
    expected = [f"via {n}" for n in range(4)]
    for events in received:
        assert [e["comment"]["body"] for e in events[:4]] == expected
        assert events[4]["type"] == "article.favorited" and events[4]["article"]["favoritesCount"] == 1
    assert len({json.dumps(events) for events in received}) == 1  # the same events, same numbers


async def test_200_concurrent_writes_arrive_in_order_and_once(two_workers: str) -> None:
    base = two_workers.replace("http", "ws")
    async with httpx.AsyncClient(base_url=two_workers, timeout=30) as http, \
            aiohttp.ClientSession() as session:
        tokens = [await register(http, f"writer{n}") for n in range(4)]
        slug = (await new_article(http, tokens[0]))["slug"]
        subscribers = [await subscribe(session, f"{base}/api/live?article={slug}") for _ in range(4)]

        async def write(n: int) -> int:
            answer = await http.post(f"/api/articles/{slug}/comments", headers=auth(tokens[n % 4]),
                                     json={"comment": {"body": f"comment {n}"}})
            assert answer.status_code == 201, answer.text
            return int(answer.json()["comment"]["id"])

        acknowledged = set(await asyncio.gather(*(write(n) for n in range(200))))
        for sub in subscribers:
            await sub.wait_for(200)
        # One write more, after all: events come in order, so a duplicate or a stray event of the
        # 200 would arrive before it (no clock decides when "nothing more" has come).
        last = await write(200)
        received = []
        for sub in subscribers:
            *events, closing = list(await sub.wait_for(201))
            assert closing["comment"]["id"] == last, closing
            received.append(events)
    for events in received:
        assert len(events) == 200
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs) and len(set(seqs)) == 200
        assert {e["comment"]["id"] for e in events} == acknowledged
    assert len({tuple(e["seq"] for e in events) for events in received}) == 1


def raw_subscriber(url: str, path: str) -> socket.socket:
    """A WebSocket client that reads nothing after its handshake, with a tiny receive buffer."""
    host, port = url.split("//")[1].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                 .encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def close_code_after(sock: socket.socket, pause: float = 0.0) -> int:
    """Read every frame the server sent until its close frame (4 KB at a time, ``pause`` seconds
    apart: a slow reader); its code."""
    sock.settimeout(WAIT_S)
    buffer = b""

    def take(size: int) -> bytes:
        nonlocal buffer
        while len(buffer) < size:
            chunk = sock.recv(4096 if pause else 65536)
            assert chunk, "the connection ended without a close frame"
            buffer += chunk
            time.sleep(pause)
        data, buffer = buffer[:size], buffer[size:]
        return data

    while True:
        first, second = take(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", take(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", take(8))[0]
        payload = take(length)
        if first & 0x0F == 0x8:
            return int(struct.unpack("!H", payload[:2])[0])


@pytest.mark.parametrize("shared_store", ["database"], indirect=True)
async def test_a_reader_that_falls_behind_is_cut_off_and_the_others_go_on(
        app: Quart, database_url: str, shared_store: dict[str, str], tmp_path: Path) -> None:
    """The slow one reads 80 KB a second, far less than is sent: it is told 4008. (One that stops
    reading altogether is reset instead: tests/live/test_live_stuck.py.)"""
    with serve(database_url, tmp_path / "serve.log", CONDUIT_LIVE_QUEUE="64") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http, \
                aiohttp.ClientSession() as session:
            token = await register(http, "writer")
            slug = (await new_article(http, token))["slug"]
            stuck = raw_subscriber(server.url, f"/api/live?article={slug}")
            slow = asyncio.create_task(asyncio.to_thread(close_code_after, stuck, 0.05))
            reader = await subscribe(session, f"{server.url.replace('http', 'ws')}/api/live?article={slug}")
            # 7 MB of events: more than the socket buffers hold and the queue's 64, so the slow
            # reader must overflow; 64 leave the reading one room for a burst of 10 writes on a
            # busy machine.
            body = "A long comment. " * 625  # 10,000 characters, the most a comment may have

            async def comment() -> None:
                answer = await http.post(f"/api/articles/{slug}/comments", headers=auth(token),
                                         json={"comment": {"body": body}})
                assert answer.status_code == 201

            for _ in range(70):
                await asyncio.gather(*(comment() for _ in range(10)))
            assert len(await reader.wait_for(700)) == 700  # never held up by the stuck one
            assert reader.ws.close_code is None
        assert await slow == TOO_SLOW
        stuck.close()


async def test_sigterm_closes_sockets_with_1001_and_finishes_requests_in_flight(
        app: Quart, database_url: str, tmp_path: Path) -> None:
    with serve(database_url, tmp_path / "serve.log") as server:
        server_: Server = server
        async with aiohttp.ClientSession() as session:
            url = f"{server.url.replace('http', 'ws')}/api/live?feed=global"
            subscribers = [await subscribe(session, url) for _ in range(4)]
            slow = asyncio.create_task(session.get(f"{server.url}/contexts/echo?token=slow&delay_ms=3000"))
            await asyncio.to_thread(wait_until_echo_in_flight, server.url)
            server_.proc.send_signal(signal.SIGTERM)
            for sub in subscribers:
                await asyncio.wait_for(sub.task, WAIT_S)
                assert sub.ws.close_code == GOING_AWAY
            answer = await slow
            assert answer.status == 200 and (await answer.json())["token"] == "slow"
        assert await asyncio.to_thread(server_.proc.wait, 20) == 0


async def test_the_server_refuses_a_huge_message_and_unknown_socket_paths(live_server: str) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{live_server.replace('http', 'ws')}/api/live?feed=global")
        await ws.receive(timeout=WAIT_S)  # hello
        await ws.send_str("x" * 70_000)  # past hypercorn.toml's websocket_max_message_size
        assert (await ws.receive(timeout=WAIT_S)).type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1009
        for path in ("/api/tags", "/api/live/extra", "/contexts/echo"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(f"{live_server.replace('http', 'ws')}{path}")
            assert refused.value.status == 403


async def test_the_lab_socket_is_refused_when_the_lab_is_off(app: Quart, database_url: str,
                                                             tmp_path: Path) -> None:
    with serve(database_url, tmp_path / "serve.log", CONDUIT_CONTEXTS_LAB="off") as server:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(f"{server.url.replace('http', 'ws')}/contexts/socket?token=t")
            assert refused.value.status == 403  # the guard's answer, not the app's 500
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
