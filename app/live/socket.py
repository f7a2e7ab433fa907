"""One live socket, for either face: what it asks for, the checks before it is accepted, and the
loop that sends its events, heartbeats and the reason it closes.

Protocol (docs/live.md): the query string picks one subscription
(``article=<slug>``, or ``feed=global|yours`` with an optional ``tag=<tag>``) and may give
``after=<seq>``, the last event the client has. The server sends ``hello`` (``seq``: where the
stream starts) or ``reload`` (the client is too far behind: reload and start again), then events
in order, each once, and ``{"type":"ping"}`` every ``CONDUIT_LIVE_PING_SECONDS``, which the client
answers with ``{"type":"pong"}`` before the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from quart import websocket

from app.domain.errors import NotFound
from app.live import transport
from app.live.hub import GOING_AWAY, Event, Hub, Subscription
from app.observe import metrics

# The close codes a client sees: GOING_AWAY (1001) and TOO_SLOW (4008) from app.live.hub, and:
TOO_BIG = 1009  # a message over MESSAGE_MAX characters
NO_PONG = 4000  # no answer to the last heartbeat
BAD_MESSAGE = 4400  # not a message this server knows
PONG = '{"type":"pong"}'
PING = '{"type":"ping"}'
HEARTBEATS = frozenset({PING, PONG})
MESSAGE_MAX = 1024  # what a client sends is a pong: anything bigger is not one of ours
# For the close frame to be written and acknowledged (a reader that is slow, not stuck, gets its
# 4008: ~130 KB to read before it); past it the connection is reset (app/live/transport.py).
CLOSE_WAIT_S = 10.0
AFTER = re.compile(r"[0-9]{1,18}")  # ASCII digits only ("²".isdigit() is true)
ARTICLE_KINDS = frozenset({"comment.created", "comment.deleted", "article.favorited",
                           "article.unfavorited"})


class Refused(Exception):
    """The handshake is answered with this HTTP status instead of an upgrade."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.errors = status, {field: [message]}


@dataclass(frozen=True)
class Want:
    match: Callable[[Event], bool]
    after: int | None


async def want_from(args: Any, viewer_id: int | None,
                    article_id_of: Callable[[str], Awaitable[int]],
                    follows_of: Callable[[int], Awaitable[frozenset[int]]]) -> Want:
    """The subscription the query string asks for; Refused (400, 401, 404) when it cannot be."""
    unknown = set(args) - {"article", "feed", "tag", "after"}
    if unknown:
        raise Refused(400, sorted(unknown)[0], "is not a live parameter (article, feed, tag, after)")
    raw_after = args.get("after")
    after = None
    if raw_after is not None:
        if not AFTER.fullmatch(raw_after):
            raise Refused(400, "after", "must be the number of the last event received")
        after = int(raw_after)
    slug, feed, tag = args.get("article"), args.get("feed"), args.get("tag")
    if (slug is None) == (feed is None):
        raise Refused(400, "subscription", "give either article=<slug> or feed=global|yours")
    if slug is not None:
        if tag is not None:
            raise Refused(400, "tag", "goes with feed=, not article=")
        try:
            article_id = await article_id_of(slug)
        except NotFound:
            raise Refused(404, "article", "not found") from None
        return Want(lambda e: e.article_id == article_id and e.kind in ARTICLE_KINDS, after)
    if feed == "global":
        if tag is None:
            return Want(lambda e: e.kind == "article.created", after)
        return Want(lambda e: e.kind == "article.created" and tag in e.tags, after)
    if feed == "yours":
        if viewer_id is None:
            raise Refused(401, "feed", "yours needs you signed in")
        follows = await follows_of(viewer_id)
        return Want(lambda e: e.kind == "article.created" and e.author_id in follows
                    and (tag is None or tag in e.tags), after)
    raise Refused(400, "feed", "must be global or yours")


def origin_allowed(allowed: list[str]) -> bool:
    """No Origin (not a browser), this site's own, or one listed (``*``: any)."""
    origin = websocket.headers.get("Origin")
    if origin is None or "*" in allowed or origin in allowed:
        return True
    return urlsplit(origin).netloc.lower() == websocket.host.lower()


class Sockets:
    """Open sockets per address and per user, in this worker."""

    def __init__(self, per_address: int, per_user: int) -> None:
        self.per_address, self.per_user = per_address, per_user
        self.open: dict[str, int] = {}

    def take(self, address: str, user_id: int | None) -> list[str]:
        keys = [f"a:{address}"] + ([f"u:{user_id}"] if user_id is not None else [])
        if self.open.get(keys[0], 0) >= self.per_address:
            raise Refused(429, "sockets", f"too many open from your address (at most {self.per_address})")
        if len(keys) > 1 and self.open.get(keys[1], 0) >= self.per_user:
            raise Refused(429, "sockets", f"too many open for your account (at most {self.per_user})")
        for key in keys:
            self.open[key] = self.open.get(key, 0) + 1
        return keys

    def give_back(self, keys: list[str]) -> None:
        for key in keys:
            left = self.open.get(key, 0) - 1
            if left > 0:
                self.open[key] = left
            else:
                self.open.pop(key, None)


async def stream(hub: Hub, want: Want, ping_s: float, subprotocol: str | None = None) -> None:
    """Accept, subscribe, and send until the client leaves or the socket is cut. Returns once
    the connection has nothing left to send (the close frame arrived) or was reset: a peer that
    stopped reading pins no kernel memory after it, and its slot is not given back before."""
    connection = transport.current(websocket.http_version)
    if connection is not None:
        connection.limit_send_buffer()
    await websocket.accept(subprotocol=subprotocol)
    sub, start, reload = await hub.subscribe(want.match, want.after)
    try:
        hello = {"type": "reload" if reload else "hello", "seq": start, "ping": ping_s}
        sub.pending.appendleft(json.dumps(hello))
        sub.ready.set()
        tasks = [asyncio.create_task(job) for job in (_send(sub), _listen(sub), _beat(sub, ping_s))]
        try:
            await sub.closed.wait()
        finally:
            for task in tasks:
                task.cancel()
        assert sub.closing is not None
        code, reason = sub.closing
        deadline = asyncio.get_running_loop().time() + CLOSE_WAIT_S
        with contextlib.suppress(Exception, TimeoutError):
            await asyncio.wait_for(websocket.close(code, reason), CLOSE_WAIT_S)
        if connection is not None:
            left = deadline - asyncio.get_running_loop().time()
            if not await connection.delivered(within=max(left, 0.0)):
                await connection.reset()
    finally:
        hub.unsubscribe(sub)


async def _send(sub: Subscription) -> None:
    hello = True  # the first message sent is the hello (stream put it first): not an event
    try:
        while True:
            await sub.ready.wait()
            sub.ready.clear()
            while sub.pending and sub.closing is None:
                text = sub.pending.popleft()
                await websocket.send(text)
                if not hello and text not in HEARTBEATS:  # nor are heartbeats
                    metrics.LIVE_DELIVERED.inc()
                hello = False
    except Exception:  # the connection is gone
        sub.cut(GOING_AWAY, "connection lost", cause="client_gone")


async def _listen(sub: Subscription) -> None:
    try:
        while True:
            message = await websocket.receive()
            if len(message) > MESSAGE_MAX:
                sub.cut(TOO_BIG, f"messages are at most {MESSAGE_MAX} characters", cause="too_big")
                return
            try:
                kind = json.loads(message).get("type")
            except (ValueError, AttributeError):
                kind = None
            if kind not in ("pong", "ping"):
                sub.cut(BAD_MESSAGE, 'expected {"type":"pong"}', cause="bad_message")
                return
            sub.heard = True
            if kind == "ping" and PONG not in sub.pending:  # one waiting pong, however many pings
                sub.pending.append(PONG)
                sub.ready.set()
    except Exception:  # the connection is gone
        sub.cut(GOING_AWAY, "connection lost", cause="client_gone")


async def _beat(sub: Subscription, ping_s: float) -> None:
    while True:
        await asyncio.sleep(ping_s)
        if not sub.heard:
            sub.cut(NO_PONG, "no answer to the last ping", cause="no_pong")
            return
        sub.heard = False
        sub.pending.append(PING)  # heartbeats are not events: never counted as queued
        sub.ready.set()
