"""A live socket whose client stops reading must not pin kernel memory (issue 26, item 9).

Real conduit-serve, one worker, raw sockets that finish the handshake and never read again while
10 KB comments go to the article they watch. What the server's end of each connection holds is
read from the kernel itself (/proc/net/tcp: its state and send queue), and a socket's address slot
must stay taken as long as that connection is there.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from quart import Quart

from tests.conftest import ROOT
from tests.live.test_live_server import raw_subscriber
from tests.support.api import auth, new_article, register
from tests.support.servers import Server, free_port, running_server

pytestmark = pytest.mark.once  # a socket's transport: backend-independent

GONE_WITHIN_S = 60.0  # generous: the server resets a cut socket 10 s after its close frame
COMMENT = "A long comment. " * 625  # 10,000 characters, the most a comment may have
BATCHES = 60  # 600 comments, 6 MB: past what the kernel lets a send queue grow to (4 MB)
KERNEL_BOUND = 256 * 1024  # what a stuck socket may hold in the server's send queue (before: 2.8 MB)


def one_worker(database_url: str, log: Path) -> AbstractContextManager[Server]:
    """Two sockets per address, a queue of 8 events: a stuck reader is cut after a few comments."""
    port = free_port()
    env = {**os.environ, "CONDUIT_ENV": "testing", "CONDUIT_DATABASE_URL": database_url,
           "CONDUIT_LIVE_QUEUE": "8", "CONDUIT_LIVE_SOCKETS_PER_ADDRESS": "2"}
    command = [sys.executable, "-m", "app.serving.serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    return running_server(command, probe=f"http://127.0.0.1:{port}/healthz", cwd=ROOT, env=env,
                          log=log)


def server_end(server_port: int, client: socket.socket) -> tuple[str, int] | None:
    """The kernel's view of the server's end of ``client``'s connection: (state, bytes in its send
    queue not yet acknowledged), or None once the server has closed it for good."""
    client_port = client.getsockname()[1]
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
            if (local, remote) == (server_port, client_port):
                return fields[3], int(fields[4].split(":")[0], 16)
    return None


def handshake_status(url: str, path: str) -> int:
    """Open a live socket and close it again at once: the status its handshake was answered."""
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(1)
            assert chunk, "no answer to the handshake"
            head += chunk
    return int(head.split(b" ")[1])


async def test_a_reader_that_stops_reading_is_reset_and_keeps_its_slot_until_then(
        app: Quart, database_url: str, tmp_path: Path) -> None:
    """Before: each stuck socket was cut (4008) and its slot given back, but its connection stayed
    ESTABLISHED with ~2.8 MB in the server's send queue, for good; a third socket was let in
    while both were still there (limit 2)."""
    with one_worker(database_url, tmp_path / "serve.log") as server:
        port = int(server.url.rsplit(":", 1)[1])
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            token = await register(http, "writer")
            slug = (await new_article(http, token))["slug"]
            stuck = [raw_subscriber(server.url, f"/api/live?article={slug}") for _ in range(2)]
            assert handshake_status(server.url, "/api/live?feed=global") == 429  # both slots taken

            def alive() -> list[tuple[str, int]]:
                return [end for end in (server_end(port, sock) for sock in stuck) if end is not None]

            async def comment() -> None:
                answer = await http.post(f"/api/articles/{slug}/comments", headers=auth(token),
                                         json={"comment": {"body": COMMENT}})
                assert answer.status_code == 201

            most_queued, admitted_beside = 0, []
            for _ in range(BATCHES):
                await asyncio.gather(*(comment() for _ in range(10)))
                most_queued = max([most_queued, *(queued for _state, queued in alive())])
                if not alive():
                    break
            deadline = time.monotonic() + GONE_WITHIN_S
            while time.monotonic() < deadline:
                # A slot comes free only with its connection: a socket let in finds at most one
                # stuck connection still there (its own slot is the other one).
                if await asyncio.to_thread(handshake_status, server.url, "/api/live?feed=global") == 101:
                    admitted_beside.append(len(alive()))
                if not alive() and admitted_beside:
                    break
                await asyncio.sleep(0.1)
            left = alive()  # before the client closes its end (which would reset the server's)
        for sock in stuck:
            sock.close()
        assert most_queued <= KERNEL_BOUND, most_queued
        assert left == [], left
        assert admitted_beside and max(admitted_beside) <= 1, admitted_beside
