"""Clients that send a request slowly cannot hold a connection for long when Hypercorn faces them
directly, with no proxy in front (Docker, ``--bind 0.0.0.0``): issue 26, item 10.

- Headers: Hypercorn's keep-alive timer (hypercorn.toml's ``keep_alive_timeout``, 5 s) runs from
  the moment a connection opens, or its last answer ends, until a request's headers are complete,
  however many bytes trickle in meanwhile; over HTTP/2 too (app/serving/supervisor.py starts it there).
- Body: ``CONDUIT_BODY_TIMEOUT`` (10 s) from the moment the app asks for it: 408, and the
  connection is closed. Before, Quart's own default held it 60 s.

The real server, raw sockets; each waits a generous bound for the server to end the connection.
"""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import urlsplit

import h2.connection
import pytest

pytestmark = pytest.mark.once  # the server's deadlines: backend-independent

CLOSED_WITHIN_S = 40.0  # four times the body's deadline; Quart's former 60 s is past it
EVERY_S = 0.5  # one header line, or one byte of the body, this often


def trickle(base: str, head: bytes, drip: bytes) -> tuple[bytes, bool]:
    """Send ``head``, then ``drip`` every EVERY_S until the server ends the connection (or
    CLOSED_WITHIN_S pass): what it answered, and whether it ended the connection."""
    parts = urlsplit(base)
    received = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(head)
        conn.settimeout(EVERY_S)
        deadline = time.monotonic() + CLOSED_WITHIN_S
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                try:
                    conn.sendall(drip)
                except OSError:  # reset while sending: closed
                    return received, True
                continue
            except ConnectionResetError:
                return received, True
            if not chunk:
                return received, True
            received += chunk
    return received, False


def h2c_headers_head(authority: str) -> bytes:
    """HTTP/2 without TLS: the preface and a HEADERS frame that says more headers follow."""
    client = h2.connection.H2Connection()
    client.initiate_connection()
    headers_frame = b"\x00\x00\x01\x01\x00\x00\x00\x00\x01\x82"  # stream 1, ":method GET", no END_HEADERS
    return client.data_to_send() + headers_frame


CONTINUATION = b"\x00\x00\x01\x09\x00\x00\x00\x00\x01\x84"  # ":path /", still no END_HEADERS


async def test_headers_that_trickle_in_are_cut_off(live_server: str) -> None:
    """Held by Hypercorn's keep-alive timer before this issue too; kept so (8,000 such
    connections were reported held through a 50 s run)."""
    netloc = urlsplit(live_server).netloc.encode()
    cases = {
        "HTTP/1.1": (b"GET / HTTP/1.1\r\nHost: " + netloc + b"\r\n", b"X-Slow: a\r\n"),
        "h2c": (h2c_headers_head(netloc.decode()), CONTINUATION),
        "nothing at all": (b"", b""),
    }
    outcomes = await asyncio.gather(*(asyncio.to_thread(trickle, live_server, head, drip)
                                      for head, drip in cases.values()))
    assert {name: closed for name, (_answer, closed) in zip(cases, outcomes, strict=True)} == \
        dict.fromkeys(cases, True)


def post_head(netloc: bytes, path: bytes, kind: bytes) -> bytes:
    return (b"POST " + path + b" HTTP/1.1\r\nHost: " + netloc + b"\r\nContent-Type: " + kind
            + b"\r\nContent-Length: 10000\r\n\r\n")


async def test_a_body_that_trickles_in_is_answered_408_and_its_connection_closed(
        live_server: str) -> None:
    """Before: the API's sign-in and the site's held such a request for 60 s (Quart's default)."""
    netloc = urlsplit(live_server).netloc.encode()
    api, site = await asyncio.gather(
        asyncio.to_thread(trickle, live_server,
                          post_head(netloc, b"/api/users/login", b"application/json"), b" "),
        asyncio.to_thread(trickle, live_server,
                          post_head(netloc, b"/login", b"application/x-www-form-urlencoded"), b"a"))
    for answer, closed in (api, site):
        head = answer.partition(b"\r\n\r\n")[0].lower()
        assert closed, answer[:300]
        assert head.startswith(b"http/1.1 408"), head
        assert b"\r\nconnection: close" in head, head
    assert b'{"errors":{"body":["did not arrive within 10 seconds"]}}' in api[0]
