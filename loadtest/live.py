"""The ``live`` scenario: S WebSocket subscribers on one article, W writers commenting on it and
toggling their favorite; every subscriber must receive every acknowledged write's event exactly
once and in order (loadtest/livecheck.py). Reported: lost, duplicated and out-of-order events
(any fails the run) and the delivery latency, from the moment a write's answer arrived to the
moment a subscriber received its event, on this process's monotonic clock.

The run goes in phases, so a caller (bench/live.py) can read the server's CPU between them:
``ready`` (accounts and article made), ``connected`` (every subscriber said hello), ``written``
(the last write answered), ``settled`` (every event arrived, or ``settle`` seconds passed).
Subscribers keep each message's arrival time and raw text and decode them only after the run:
the client's own work while events arrive stays small, and so does its share of the latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from loadtest.livecheck import Key, Tally, check_stream, comment_key, favorite_key
from loadtest.stats import summarise

HANDSHAKES = 64  # sockets opening at once (each hello waited for before the next starts)
LINGER_S = 0.5  # after the last expected event: time for a late duplicate to show itself
PASSWORD = "live-load-test-pw"

Phase = Callable[[str], None]


@dataclass(frozen=True)
class LiveOptions:
    url: str
    subscribers: int
    writers: int
    writes: int  # in all, shared among the writers
    write_rate: float | None  # writes per second in all; None: each writer as fast as answers come
    comment_share: float  # the rest are favorite toggles
    settle: float  # seconds to wait for the last events after the last write was answered
    timeout: float
    seed: int
    run_id: str


@dataclass
class Subscriber:
    name: str
    ws: aiohttp.ClientWebSocketResponse
    hello_seq: int
    raw: list[tuple[float, str]] = field(default_factory=list)
    pings: int = 0
    closed_by_server: int | None = None  # the close code, when the server ended it first
    task: asyncio.Task[None] | None = None
    wanted: int | None = None  # events to wait for, once the writes are done
    done: asyncio.Event = field(default_factory=asyncio.Event)  # has them all, or was closed

    def expect(self, events: int) -> None:
        self.wanted = events
        if len(self.raw) >= events or self.closed_by_server is not None:
            self.done.set()

    async def read(self) -> None:
        async for msg in self.ws:
            now = time.monotonic()
            if msg.type != aiohttp.WSMsgType.TEXT:
                self.raw.append((now, f"<{msg.type.name} frame>"))
                continue
            text: str = msg.data
            if len(text) < 64 and '"ping"' in text:  # heartbeats are short; events are not
                with contextlib.suppress(ValueError, AttributeError):
                    if json.loads(text).get("type") == "ping":
                        self.pings += 1
                        await self.ws.send_str('{"type":"pong"}')
                        continue
            self.raw.append((now, text))
            if self.wanted is not None and len(self.raw) >= self.wanted:
                self.done.set()
        code = self.ws.close_code
        self.closed_by_server = 1006 if code is None else code  # 1006: gone without a close frame
        self.done.set()


@dataclass
class Writes:
    acked: dict[Key, float] = field(default_factory=dict)
    comments: int = 0
    favorites: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # the writes' own answer times


class LiveSetupError(Exception):
    pass


def raise_open_files(wanted: int) -> None:
    """Each socket is a file descriptor: lift the soft limit toward the hard one if it is short."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        cap = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (cap, hard))


async def _post(session: aiohttp.ClientSession, opts: LiveOptions, method: str, path: str,
                token: str | None, body: Any, expect: int) -> Any:
    headers = {"Authorization": f"Token {token}"} if token else {}
    async with session.request(method, opts.url + path, json=body, headers=headers,
                               timeout=aiohttp.ClientTimeout(total=opts.timeout)) as response:
        raw = await response.read()
        if response.status != expect:
            raise LiveSetupError(f"{method} {path} answered {response.status}, expected {expect}: "
                                 f"{raw[:160]!r}")
        return json.loads(raw)


async def _setup(session: aiohttp.ClientSession, opts: LiveOptions) -> tuple[str, list[tuple[str, str]]]:
    """An article of its own (so nothing else writes to it) and W writer accounts."""
    accounts = []
    for i in range(opts.writers + 1):
        name = f"live{opts.run_id}{'a' if i == 0 else f'w{i}'}"
        data = await _post(session, opts, "POST", "/api/users", None, {"user": {
            "username": name, "email": f"{name}@load.test", "password": PASSWORD}}, 201)
        accounts.append((name, data["user"]["token"]))
    article = await _post(session, opts, "POST", "/api/articles", accounts[0][1], {"article": {
        "title": f"Live load {opts.run_id}", "description": "watched by many",
        "body": "Comments and favorites arrive live.", "tagList": ["live-load"]}}, 201)
    return article["article"]["slug"], accounts[1:]


async def _subscribe(session: aiohttp.ClientSession, opts: LiveOptions, slug: str, index: int,
                     gate: asyncio.Semaphore) -> Subscriber:
    url = opts.url.replace("http", "ws", 1) + f"/api/live?article={slug}"
    async with gate, asyncio.timeout(opts.timeout):  # the handshake and the hello, together
        ws = await session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=opts.timeout))
        try:
            first = await ws.receive()
            hello = json.loads(first.data) if first.type == aiohttp.WSMsgType.TEXT else None
            if not isinstance(hello, dict) or hello.get("type") != "hello":
                raise LiveSetupError(f"subscriber {index}: expected a hello, got {first.data!r:.120}")
        except BaseException:
            await ws.close()
            raise
    sub = Subscriber(f"subscriber {index}", ws, int(hello["seq"]))
    sub.task = asyncio.create_task(sub.read())
    return sub


async def _writer(session: aiohttp.ClientSession, opts: LiveOptions, slug: str, index: int,
                  account: tuple[str, str], start: float, writes: Writes) -> None:
    username, token = account
    rng = random.Random(opts.seed * 1000 + index)
    favorited, toggles, toggling = False, 0, True
    mine = range(index, opts.writes, opts.writers)  # this writer's turns in the global order
    for turn in mine:
        if opts.write_rate:
            await asyncio.sleep(max(0.0, start + turn / opts.write_rate - time.monotonic()))
        comment = not toggling or rng.random() < opts.comment_share
        if comment:
            method, path, body, expect = "POST", f"/api/articles/{slug}/comments", \
                {"comment": {"body": f"live {username} {turn}"}}, 201
        else:
            method, path, body, expect = "DELETE" if favorited else "POST", \
                f"/api/articles/{slug}/favorite", None, 200
        sent = time.monotonic()
        try:
            data = await _post(session, opts, method, path, token, body, expect)
            acked = time.monotonic()
            if comment:
                key = comment_key(data["comment"]["id"])
                writes.comments += 1
            else:
                if data["article"]["favorited"] is favorited:
                    raise LiveSetupError(f"{method} favorite answered favorited={favorited}")
                favorited = not favorited
                key = favorite_key("article.favorited" if favorited else "article.unfavorited",
                                   username, toggles)
                toggles += 1
                writes.favorites += 1
        except (aiohttp.ClientError, OSError, TimeoutError, LiveSetupError, KeyError, TypeError,
                ValueError) as error:
            writes.errors.append(f"{username} {method} {path}: {type(error).__name__}: {error}")
            toggling = toggling and comment  # a failed toggle leaves this favorite unknown: stop
            continue
        writes.acked[key] = acked
        writes.latencies.append(acked - sent)


async def run_live(opts: LiveOptions, phase: Phase | None = None) -> dict[str, Any]:
    """One run; the report as plain data (``report["passed"]``: nothing lost, repeated or wrong)."""
    step = phase or (lambda _name: None)
    raise_open_files(opts.subscribers + opts.writers + 256)
    connector = aiohttp.TCPConnector(limit=0)  # an open socket holds its connection: no pool cap
    # No session-wide deadline: sockets stay open the whole run; each request has its own timeout.
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=None)) as session:
        try:
            slug, accounts = await _setup(session, opts)
        except (aiohttp.ClientError, OSError, TimeoutError, LiveSetupError, KeyError, TypeError,
                ValueError) as error:
            return {"scenario": "live", "target": opts.url, "setup_error": f"{type(error).__name__}: {error}"}
        step("ready")
        gate = asyncio.Semaphore(HANDSHAKES)
        began = time.monotonic()
        opened = await asyncio.gather(*(_subscribe(session, opts, slug, i, gate)
                                        for i in range(opts.subscribers)), return_exceptions=True)
        connect_s = time.monotonic() - began
        subs = [s for s in opened if isinstance(s, Subscriber)]
        refused = [f"{type(e).__name__}: {e}" for e in opened if isinstance(e, BaseException)]
        step("connected")
        writes = Writes()
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.gather(*(_writer(session, opts, slug, i, accounts[i], wall0, writes)
                               for i in range(opts.writers)))
        write_s = time.monotonic() - wall0
        step("written")
        expected = len(writes.acked)
        for sub in subs:
            sub.expect(expected)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(s.done.wait() for s in subs)), opts.settle)
        settle_s = time.monotonic() - wall0 - write_s
        await asyncio.sleep(LINGER_S)
        step("settled")
        client_cpu = (time.process_time() - cpu0) / max(time.monotonic() - wall0, 1e-9)
        early_close = {s.name: s.closed_by_server for s in subs if s.closed_by_server is not None}
        await asyncio.gather(*(s.ws.close() for s in subs), return_exceptions=True)
        for s in subs:
            if s.task is not None:
                s.task.cancel()
        await asyncio.gather(*(s.task for s in subs if s.task is not None), return_exceptions=True)
    return report(opts, subs, writes, refused, early_close, connect_s=connect_s, write_s=write_s,
                  settle_s=settle_s, client_cpu=client_cpu)


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def report(opts: LiveOptions, subs: list[Subscriber], writes: Writes, refused: list[str],
           early_close: dict[str, int], *, connect_s: float, write_s: float,
           settle_s: float, client_cpu: float) -> dict[str, Any]:
    total = Tally()
    every: list[float] = []
    complete: dict[Key, float] = {}  # per write: until the last subscriber had it
    for sub in subs:
        stream = [(t, _decode(text)) for t, text in sub.raw]
        tally = check_stream(sub.name, sub.hello_seq, stream, writes.acked)
        total.add(tally)
        every.extend(tally.latencies.values())
        for key, seconds in tally.latencies.items():
            complete[key] = max(complete.get(key, 0.0), seconds)
    problems = (total.failures + len(writes.errors) + len(refused) + len(early_close))
    return {
        "scenario": "live",
        "target": opts.url,
        "subscribers": opts.subscribers,
        "connected": len(subs),
        "refused": len(refused),
        "writers": opts.writers,
        "writes": {"sent": opts.writes, "acknowledged": len(writes.acked), "comments": writes.comments,
                   "favorites": writes.favorites, "errors": len(writes.errors),
                   "rate": opts.write_rate, "answer_ms": summarise(writes.latencies)},
        "events_expected": len(writes.acked),
        "deliveries_expected": total.expected,
        "deliveries": total.delivered,
        "lost": total.lost,
        "duplicated": total.duplicated,
        "out_of_order": total.out_of_order,
        "unexpected": total.unexpected,
        "count_mismatches": total.count_mismatches,
        "before_ack": total.early,
        "latency_ms": summarise(every),
        "complete_ms": summarise(list(complete.values())),
        "closed_early": dict(sorted(Counter(str(code) for code in early_close.values()).items())),
        "pings_answered": sum(s.pings for s in subs),
        "connect_s": round(connect_s, 3),
        "write_s": round(write_s, 3),
        "settle_s": round(settle_s, 3),
        "client_cpu": round(client_cpu, 3),
        "sample_errors": (refused[:3] + writes.errors[:3] + total.samples + [
            f"{name} closed by the server: {code}" for name, code in early_close.items()])[:10],
        "passed": problems == 0,
    }
