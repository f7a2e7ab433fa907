"""Closed-loop and open-loop drivers, in one process or several."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import aiohttp

from loadtest.client import Client
from loadtest.scenarios import SetupError, make_scenario
from loadtest.stats import Recorder


@dataclass(frozen=True)
class RunOptions:
    url: str
    scenario: str
    concurrency: int
    duration: float | None
    requests: int | None
    rate: float | None
    warmup: float
    timeout: float
    seed: int
    max_delay_ms: int
    run_id: str


@dataclass
class RunResult:
    recorder: Recorder
    wall: float
    cpu: float  # the client's CPU seconds per wall second (1.0 = one core saturated)
    setup_error: str | None = None


Progress = Callable[[Recorder, float], None]


async def _drive(opts: RunOptions, scenario: Any, client: Client, rng: random.Random,
                 seconds: float | None, budget: int | None) -> None:
    """Send steps until the time or the request budget runs out."""
    start = time.perf_counter()
    deadline = None if seconds is None else start + seconds
    left = [budget]
    vus = [{"id": i} for i in range(opts.concurrency)]

    def take() -> bool:
        if deadline is not None and time.perf_counter() >= deadline:
            return False
        if left[0] is not None:
            if left[0] <= 0:
                return False
            left[0] -= 1
        return True

    if opts.rate is None:  # closed loop: each virtual user sends its next request on an answer
        async def user(vu: dict[str, Any]) -> None:
            while take():
                await scenario.step(client, rng, vu)

        await asyncio.gather(*(user(vu) for vu in vus))
        return

    # Open loop: arrivals on a fixed schedule whatever the answers; a request waiting for a free
    # virtual user counts that wait in its latency (no coordinated omission). The most recently
    # freed user goes next (LIFO): a run uses about as many users as it has requests in flight, so
    # a write scenario signs up that many accounts, not one per user of --concurrency.
    free: asyncio.LifoQueue[dict[str, Any]] = asyncio.LifoQueue()
    for vu in vus:
        free.put_nowait(vu)
    tasks: set[asyncio.Task[None]] = set()

    async def arrival(scheduled: float) -> None:
        vu = await free.get()
        try:
            await scenario.step(client, rng, vu, started=scheduled)
        finally:
            free.put_nowait(vu)

    n = 0
    while take():
        scheduled = start + n / opts.rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        task = asyncio.create_task(arrival(scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
    if tasks:
        await asyncio.gather(*tasks)


async def run(opts: RunOptions, progress: Progress | None = None) -> RunResult:
    rng = random.Random(opts.seed)
    scenario = make_scenario(opts.scenario, opts.run_id, opts.max_delay_ms)
    connector = aiohttp.TCPConnector(limit=opts.concurrency, limit_per_host=opts.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        scratch = Client(session, opts.url, Recorder(), opts.timeout)
        try:
            await scenario.setup(scratch, rng)
        except SetupError as error:
            return RunResult(Recorder(), 0.0, 0.0, str(error))
        if opts.warmup > 0:
            await _drive(opts, scenario, scratch, rng, opts.warmup, None)
        recorder = Recorder()
        client = Client(session, opts.url, recorder, opts.timeout)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        ticker = None
        if progress is not None:
            async def tick() -> None:
                while True:
                    await asyncio.sleep(0.5)
                    progress(recorder, time.perf_counter() - wall0)
            ticker = asyncio.create_task(tick())
        try:
            await _drive(opts, scenario, client, rng, opts.duration, opts.requests)
        finally:
            if ticker is not None:
                ticker.cancel()
        wall = time.perf_counter() - wall0
        cpu = (time.process_time() - cpu0) / wall if wall > 0 else 0.0
        await scenario.finish(client)  # read-back checks; not part of the timed run
        return RunResult(recorder, wall, cpu)


def _run_sync(opts: RunOptions) -> RunResult:
    return asyncio.run(run(opts))


def _share(total: int | None, parts: int, index: int) -> int | None:
    if total is None:
        return None
    return total // parts + (1 if index < total % parts else 0)


def run_processes(opts: RunOptions, procs: int) -> list[RunResult]:
    """Split concurrency, rate and request budget over ``procs`` worker processes."""
    shares = [
        replace(opts, concurrency=_share(opts.concurrency, procs, i) or 1,
                requests=_share(opts.requests, procs, i),
                rate=None if opts.rate is None else opts.rate / procs,
                seed=opts.seed + i, run_id=f"{opts.run_id}p{i}")
        for i in range(procs)
    ]
    with ProcessPoolExecutor(max_workers=procs) as pool:
        return list(pool.map(_run_sync, shares))
