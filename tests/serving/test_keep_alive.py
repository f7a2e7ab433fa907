"""An answer given before the request's body was read (401, 404, 405, 413 to a POST) must not leave
a keep-alive client talking to a closed connection: Hypercorn 0.18 drops the connection after such
an answer without saying so. The app says ``Connection: close`` on it (app/serving/guard.py)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import h2.connection
import h2.events
import httpx
import pytest

pytestmark = pytest.mark.once  # the server's connection handling: backend-independent

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
BODY = b'{"article": {"title": "t", "description": "d", "body": "b"}}'


def _early_answer_head(base: str, path: str, delay: float) -> bytes:
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: " + parts.netloc.encode()
                     + b"\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(BODY)).encode() + b"\r\n\r\n")
        time.sleep(delay)
        conn.sendall(BODY)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(65536)
            if not chunk:
                break
            head += chunk
    return head.partition(b"\r\n\r\n")[0].lower()


def test_an_early_answer_says_the_connection_closes(live_server: str) -> None:
    """The body follows the headers 10 ms later: the answer is sent before it arrives."""
    for path, status in (("/api/articles", b" 401"), ("/api/nowhere", b" 404"),
                         ("/api/tags", b" 405")):
        head = _early_answer_head(live_server, path, 0.01)
        assert status in head.split(b"\r\n")[0], head
        assert b"\r\nconnection: close" in head, (path, head)


async def _slow_body() -> AsyncIterator[bytes]:
    await asyncio.sleep(0.01)  # the body follows the headers a little later, as over a network
    yield BODY


async def _at_once() -> AsyncIterator[bytes]:
    yield BODY


async def test_a_keep_alive_client_carries_on_after_early_answers(live_server: str) -> None:
    """Before: with the body sent 10 ms after the headers, every follow-up on the same connection
    failed ("Server disconnected"); with the body sent at once, some did."""
    failures = 0
    async with httpx.AsyncClient(base_url=live_server, timeout=10,
                                 limits=httpx.Limits(max_connections=1)) as client:
        for attempt in range(60):
            body = _slow_body() if attempt % 2 else _at_once()
            refused = await client.post("/api/articles", content=body,
                                        headers={"Content-Type": "application/json",
                                                 "Content-Length": str(len(BODY))})
            assert refused.status_code == 401
            try:
                follow_up = await client.get("/healthz")
            except httpx.TransportError:
                failures += 1
                continue
            assert follow_up.status_code == 200
    assert failures == 0


def test_a_request_whose_body_is_read_keeps_its_connection(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=10) as client:
        answers = [client.post("/api/users/login", json={"user": {}}) for _ in range(3)]
    assert [a.status_code for a in answers] == [422] * 3
    assert all("close" not in a.headers.get("connection", "") for a in answers)


def _closed_within(conn: socket.socket, seconds: float) -> bool:
    """Read (and drop) what the server sends until it closes the connection or ``seconds`` pass."""
    conn.settimeout(0.5)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if not conn.recv(65536):
                return True
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True
    return False


def test_idle_http2_connections_are_closed_after_the_keep_alive_timeout(live_server: str) -> None:
    """Before: 500 cleartext HTTP/2 connections that sent only the preface were all still open
    after 120 s (hypercorn.toml's keep_alive_timeout is 5 s)."""
    parts = urlsplit(live_server)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    quiet = [socket.create_connection(address, timeout=10) for _ in range(50)]
    for conn in quiet:
        conn.sendall(PREFACE)  # and nothing more
    # A connection that asks for something is answered, then closed once it has been idle.
    used = socket.create_connection(address, timeout=10)
    client = h2.connection.H2Connection()
    client.initiate_connection()
    client.send_headers(1, [(":method", "GET"), (":path", "/healthz"), (":scheme", "http"),
                            (":authority", parts.netloc)], end_stream=True)
    used.sendall(client.data_to_send())
    status = None
    while status is None:
        for event in client.receive_data(used.recv(65536)):
            if isinstance(event, h2.events.ResponseReceived):
                status = dict(event.headers)[b":status"]
        used.sendall(client.data_to_send())
    assert status == b"200"
    try:
        # Bounded wait, not a timing claim: before, none of them ever closed.
        assert all(_closed_within(conn, 15) for conn in [*quiet, used])
    finally:
        for conn in [*quiet, used]:
            conn.close()
