"""The TCP connection under a live socket, so that a peer that stops reading cannot pin memory.

A WebSocket client that completes its handshake and then reads nothing fills the kernel's send
buffer (Linux grows it up to ``net.ipv4.tcp_wmem``'s 4 MB). The hub cuts such a socket (4008), but
its close frame cannot be written either: Hypercorn then waits forever for the buffer to drain,
the connection stays ESTABLISHED with megabytes in the kernel's send queue, and its address slot
was given back. ASGI gives an app no handle on its connection, so each Hypercorn connection's task
publishes its stream writer in a ContextVar that the app's task (spawned from it) inherits; with
it a live socket:

- gets a small send buffer (``SEND_BUFFER``): what a stuck reader holds in the kernel is bounded;
- is reset (RST, SO_LINGER 0) when what it sent last is not acknowledged within a deadline, so the
  kernel frees its queue at once, and only then gives back its slot.

Only HTTP/1.1 sockets are handled so: over HTTP/2 the connection carries other streams too.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import termios
from contextvars import ContextVar
from typing import Any

SEND_BUFFER = 32 * 1024  # bytes asked of SO_SNDBUF (Linux doubles it): a few events in flight
POLL_S = 0.05
GONE_WAIT_S = 1.0  # what an aborted transport gets to report itself closed

_writer: ContextVar[asyncio.StreamWriter | None] = ContextVar("conduit_connection", default=None)


def publish_connections() -> None:
    """Make each Hypercorn connection's writer visible to the app tasks it spawns (idempotent;
    called once per worker, before it serves)."""
    from hypercorn.asyncio.tcp_server import TCPServer

    original = TCPServer.run
    if getattr(original, "publishes_connection", False):
        return

    async def run(self: TCPServer) -> None:
        _writer.set(self.writer)  # this connection's own task: its context is its own
        await original(self)

    run.publishes_connection = True  # type: ignore[attr-defined]
    TCPServer.run = run  # type: ignore[method-assign]


class Connection:
    """One HTTP/1.1 connection's transport and socket."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.transport: Any = writer.transport
        self.socket: Any = writer.get_extra_info("socket")

    def limit_send_buffer(self, size: int = SEND_BUFFER) -> None:
        with contextlib.suppress(OSError):
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)

    def unacknowledged(self) -> int:
        """Bytes written but not yet acknowledged by the peer: still in the transport's buffer or
        in the kernel's send queue (SIOCOUTQ). 0 once the connection is closed."""
        if self.transport.is_closing() and self.transport.get_write_buffer_size() == 0:
            return 0
        try:
            queued = fcntl.ioctl(self.socket.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
        except (OSError, ValueError):  # closed meanwhile
            return 0
        return int(self.transport.get_write_buffer_size() + struct.unpack("i", queued)[0])

    async def delivered(self, within: float) -> bool:
        """Everything written was acknowledged within ``within`` seconds."""
        deadline = asyncio.get_running_loop().time() + within
        while self.unacknowledged() > 0:
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(POLL_S)
        return True

    async def reset(self) -> None:
        """Close now with an RST: the kernel drops the send queue instead of trying to deliver it
        for minutes. Returns once the connection is closed."""
        with contextlib.suppress(OSError):
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()
        with contextlib.suppress(Exception, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), GONE_WAIT_S)


def current(http_version: str) -> Connection | None:
    """The connection under this WebSocket, when it is its own (HTTP/1.1) and Hypercorn's."""
    writer = _writer.get()
    if writer is None or not http_version.startswith("1"):
        return None
    return Connection(writer)
