"""Each worker's hub: it reads new events from the log once and hands them to that worker's sockets.

The log (``live_events``, app.domain.live) is the only truth: an event is there once its change is
committed, numbered in commit order. A hub reads what is past the last number it read, in order,
and offers each event to every subscription in its worker. What tells a hub to look is a doorbell,
and a lost ring loses nothing (the hub also looks every ``SAFETY_POLL_S``):

- the worker that wrote the event rings its own hub at commit (an ``after_commit`` hook);
- PostgreSQL: LISTEN on the channel the writer NOTIFYs at commit, on one connection per worker;
- Redis (``CONDUIT_REDIS_URL``): the writer PUBLISHes the number after commit; for several hosts
  whose connection count to PostgreSQL matters (LISTEN holds a connection, and does not pass
  through PgBouncer's transaction pooling);
- SQLite: the hub looks every ``CONDUIT_LIVE_POLL_MS`` while it has a subscriber.

A subscription keeps a cursor (the last number it was offered): an event at or below it is never
offered again, so a replay from the log and the live stream can overlap without a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.live import wire_text
from app.infra.settings import Settings
from app.live import carriers
from app.models import LiveEvent
from app.observe import metrics

log = logging.getLogger("conduit.live")

GOING_AWAY = 1001  # the server is shutting down (or restarting): reconnect with after=<seq>
TOO_SLOW = 4008  # more events waiting than the queue holds: reconnect with after=<seq>
BATCH = 500  # events read per statement
SAFETY_POLL_S = 1.0  # a doorbell can be lost (a dropped LISTEN or Redis connection): look anyway
RETRY_S = 1.0  # after the log could not be read
STOP_WAIT_S = 2.0  # what stopping waits for the hub's tasks and its Redis client
POSITION_FRESH_S = 1.0  # how long a worker reuses the newest event number it read for pages


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    kind: str
    article_id: int | None
    author_id: int | None
    tags: frozenset[str]
    text: str  # the JSON sent, built once per worker


def event_of(row: Any) -> Event:
    seq, kind, article_id, author_id, payload = row
    tags: frozenset[str] = frozenset()
    if kind == "article.created":
        tags = frozenset(json.loads(payload)["article"]["tagList"])
    return Event(seq, kind, article_id, author_id, tags, wire_text(kind, seq, payload))


@dataclass(eq=False)
class Subscription:
    """One socket's interest: which events (``match``) and a bounded queue of their texts."""

    match: Callable[[Event], bool]
    capacity: int
    cursor: int = 0
    replayed: int = 0  # the replay's end: an overflow up to it means "reload", not "too slow"
    pending: deque[str] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False
    held: list[Event] | None = field(default_factory=list)  # offered while the replay runs
    heard: bool = True  # the client answered the last heartbeat (or none was sent yet)
    closing: tuple[int, str] | None = None  # the close code and reason, once it is cut
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def cut(self, code: int, reason: str, *, cause: str) -> None:
        """Close the socket with ``code`` and ``reason``; ``cause`` names why in the metrics."""
        if self.closing is None:
            self.closing = (code, reason)
            metrics.LIVE_CUT.labels(cause).inc()
        self.closed.set()
        self.ready.set()

    def offer(self, event: Event) -> None:
        if self.held is not None:
            self.held.append(event)
            return
        if event.seq <= self.cursor:
            return
        self.cursor = event.seq
        if not self.match(event):
            return
        if len(self.pending) >= self.capacity:  # too slow a reader: it is cut off, not waited for
            self.overflowed = True
            if self.held is None and self.cursor > self.replayed:
                self.cut(TOO_SLOW, f"more than {self.capacity} events waiting; "
                                   f"reconnect with after=<the last seq you have>", cause="too_slow")
        else:
            self.pending.append(event.text)
        self.ready.set()

    def release(self) -> None:
        """The replay is done: what arrived meanwhile follows it (duplicates fall to the cursor)."""
        held, self.held = self.held or [], None
        for event in held:
            self.offer(event)


class Hub:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.subscriptions: set[Subscription] = set()
        self.high = 0  # the last number read from the log
        self.engine: AsyncEngine | None = None
        self.wake: asyncio.Event | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.carrier = ("redis" if settings.redis_url else
                        "poll" if settings.is_sqlite else "postgresql")
        self.redis: Any = None
        self.publishing: set[asyncio.Task[None]] = set()
        self.position_seq, self.position_at = 0, -POSITION_FRESH_S

    # Life ----------------------------------------------------------------------------------------

    async def start(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.wake = asyncio.Event()
        with contextlib.suppress(Exception):  # the database may be down at start: read it later
            self.high = await self.newest()
        self.tasks.append(asyncio.create_task(self._read_loop()))
        if self.carrier == "postgresql":
            self.tasks.append(asyncio.create_task(self._listen_postgresql()))
        elif self.carrier == "redis":
            self.redis = carriers.redis_client(self.settings)
            self.tasks.append(asyncio.create_task(self._listen_redis()))

    async def stop(self) -> None:
        """Bounded: a Redis subscription cancelled mid-read can wait on its own connection."""
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=STOP_WAIT_S)
        self.tasks.clear()
        if self.redis is not None:
            with contextlib.suppress(Exception, TimeoutError):
                await asyncio.wait_for(self.redis.aclose(), STOP_WAIT_S)

    def committed(self, seq: int) -> None:
        """After a commit in this worker that wrote event ``seq``: ring this hub, and the others."""
        if self.wake is not None:
            self.wake.set()
        if self.redis is not None:
            task = asyncio.get_running_loop().create_task(self._publish(seq))
            self.publishing.add(task)  # a task nobody holds may be collected before it runs
            task.add_done_callback(self.publishing.discard)

    @property
    def channel(self) -> str:
        return f"{self.settings.redis_prefix}:live"

    async def _publish(self, seq: int) -> None:
        await carriers.publish(self.redis, self.channel, seq)

    # The log -------------------------------------------------------------------------------------

    async def newest(self) -> int:
        assert self.engine is not None
        async with self.engine.connect() as connection:
            return int(await connection.scalar(select(func.coalesce(func.max(LiveEvent.seq), 0))) or 0)

    async def position(self) -> int:
        """Where a page's live updates start: the newest event number, read at most once every
        ``POSITION_FRESH_S`` by this worker. A page that starts a little early is only sent events
        it already shows again, which static/live.js skips (comments and articles by id, the
        favorite count is a number, not a step); one that started late would miss some."""
        now = time.monotonic()
        if now - self.position_at >= POSITION_FRESH_S:
            self.position_seq, self.position_at = await self.newest(), now
        return self.position_seq

    async def pruned_past(self, after: int) -> bool:
        """Events after ``after`` may be gone from the log (the oldest kept is past the next one)."""
        assert self.engine is not None
        async with self.engine.connect() as connection:
            oldest = await connection.scalar(select(func.min(LiveEvent.seq)))
        return oldest is not None and after < int(oldest) - 1

    async def read_after(self, after: int, limit: int = BATCH) -> list[Event]:
        assert self.engine is not None
        statement = (select(LiveEvent.seq, LiveEvent.kind, LiveEvent.article_id, LiveEvent.author_id,
                            LiveEvent.payload)
                     .where(LiveEvent.seq > after).order_by(LiveEvent.seq).limit(limit))
        async with self.engine.connect() as connection:
            return [event_of(row) for row in await connection.execute(statement)]

    async def _read_loop(self) -> None:
        assert self.wake is not None
        poll_s = self.settings.live_poll_ms / 1000 if self.carrier == "poll" else SAFETY_POLL_S
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), poll_s if self.subscriptions else SAFETY_POLL_S)
            self.wake.clear()
            if not self.subscriptions:
                continue
            try:
                await self._read_new()
            except Exception as error:  # the database is down: sockets wait, then catch up
                log.warning("live: cannot read the event log (%s); trying again", error)
                await asyncio.sleep(RETRY_S)

    async def _read_new(self) -> None:
        # Events at or below every subscription's cursor concern nobody (a hub idle a while).
        after = max(self.high, min(sub.cursor for sub in self.subscriptions))
        while True:
            events = await self.read_after(after)
            for event in events:
                for sub in tuple(self.subscriptions):
                    sub.offer(event)
            if events:
                after = self.high = events[-1].seq
            if len(events) < BATCH:
                return

    # Subscribing ---------------------------------------------------------------------------------

    async def subscribe(self, match: Callable[[Event], bool], after: int | None
                        ) -> tuple[Subscription, int, bool]:
        """A subscription from event ``after`` (None: from now on); the number its stream starts
        after; whether the client must reload instead (``after`` is older than the log keeps, or
        newer than it has)."""
        sub = Subscription(match, self.settings.live_queue)
        self.subscriptions.add(sub)  # from here on, events are held for it
        if self.wake is not None:
            self.wake.set()
        try:
            newest = await self.newest()
            if len(self.subscriptions) == 1 or newest < self.high:
                # Nobody else is waiting on the hub's reads (an idle hub fell behind; the new one
                # replays on its own), or the log went back (a restored backup): go on from here.
                self.high = newest
            reload = after is not None and (after > newest or await self.pruned_past(after))
            sub.cursor = newest if after is None or reload else after
            if not reload and after is not None and after < newest:
                events = await self.read_after(after, limit=newest - after)
                # A writer may have pruned the log between the two reads: then events are missing.
                reload = await self.pruned_past(after)
                sub.held, held, sub.replayed = None, sub.held, newest
                for event in events:
                    sub.offer(event)
                sub.held = held
                if sub.overflowed or reload:  # more missed than a queue holds, or pruned meanwhile
                    sub.pending.clear()
                    sub.overflowed, reload, sub.cursor = False, True, newest
        except BaseException:
            self.subscriptions.discard(sub)
            raise
        start = after if after is not None and not reload else sub.cursor
        sub.release()
        metrics.LIVE_SUBSCRIBERS.inc()
        return sub, start, reload

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self.subscriptions:
            self.subscriptions.discard(sub)
            metrics.LIVE_SUBSCRIBERS.dec()

    def going_away(self) -> None:
        """The worker is shutting down: every socket closes with 1001 (in-flight HTTP requests
        finish as usual)."""
        for sub in tuple(self.subscriptions):
            sub.cut(GOING_AWAY, "the server is restarting: reconnect with after=<the last seq you have>",
                    cause="shutdown")

    # Doorbells -----------------------------------------------------------------------------------

    async def _listen_postgresql(self) -> None:
        await carriers.listen_postgresql(self.settings, self._ring)

    async def _listen_redis(self) -> None:
        await carriers.listen_redis(self.redis, self.channel, self._ring)

    def _ring(self, *_: Any) -> None:
        if self.wake is not None:
            self.wake.set()
