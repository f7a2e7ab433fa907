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
from loadtest.scenario import SetupError
from loadtest.scenarios import make_scenario
from loadtest.stages import Profile
from loadtest.stats import Recorder


@dataclass(frozen=True)
class RunOptions:
    url: str
    scenario: str
    profile: Profile  # users (closed loop) or arrivals per second (open loop) over time
    concurrency: int  # open loop: the most requests in flight; closed loop: the profile's peak
    requests: int | None
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
TICK_S = 0.05  # how often a closed loop's user count follows its profile


async def _drive(opts: RunOptions, scenario: Any, client: Client, rng: random.Random,
                 profile: Profile, budget: int | None) -> None:
    """Send steps as the profile says until it ends or the request budget runs out."""
    start = time.perf_counter()
    total = profile.total
    left = [budget]
    vus: list[dict[str, Any]] = []

    def take(t: float) -> bool:
        if total is not None and t >= total:
            return False
        if left[0] is not None:
            if left[0] <= 0:
                return False
            left[0] -= 1
        return True

    def vu(i: int) -> dict[str, Any]:
        while len(vus) <= i:  # a user keeps its state when a ramp stops and restarts it
            vus.append({"id": len(vus)})
        return vus[i]

    if not profile.open_loop:
        await _closed_loop(scenario, client, rng, profile, start, take, vu)
        return

    # Open loop: arrivals on the profile's schedule whatever the answers; a request waiting for
    # a free virtual user counts that wait in its latency (no coordinated omission). The most
    # recently freed user goes next (LIFO): a run uses about as many users as it has requests in
    # flight, not one per user of --concurrency.
    free: asyncio.LifoQueue[dict[str, Any]] = asyncio.LifoQueue()
    for i in range(opts.concurrency):
        free.put_nowait(vu(i))
    tasks: set[asyncio.Task[None]] = set()

    async def arrival(scheduled: float) -> None:
        user = await free.get()
        try:
            await scenario.step(client, rng, user, started=scheduled)
        finally:
            free.put_nowait(user)

    n = 0
    while (t := profile.time_of(n)) is not None and take(t):
        scheduled = start + t
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        task = asyncio.create_task(arrival(scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
    if tasks:
        await asyncio.gather(*tasks)


async def _closed_loop(scenario: Any, client: Client, rng: random.Random, profile: Profile,
                       start: float, take: Callable[[float], bool],
                       vu: Callable[[int], dict[str, Any]]) -> None:
    """Each user sends its next request on an answer; users are started and stopped (after
    their request in flight) to follow the profile."""
    running: dict[int, asyncio.Task[None]] = {}
    stopping: set[int] = set()
    spent = False

    async def user(i: int) -> None:
        nonlocal spent
        while i not in stopping:
            if not take(time.perf_counter() - start):
                spent = True
                return
            await scenario.step(client, rng, vu(i))

    while not spent:
        t = time.perf_counter() - start
        if profile.total is not None and t >= profile.total:
            break
        want = round(profile.at(t))
        for i in [i for i, task in running.items() if task.done()]:
            del running[i]
            stopping.discard(i)
        for i in range(want):
            if i not in running:
                stopping.discard(i)
                running[i] = asyncio.create_task(user(i))
        stopping.update(i for i in running if i >= want)
        await asyncio.sleep(TICK_S)
    stopping.update(running)
    await asyncio.gather(*running.values())


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
        if opts.warmup > 0:  # at the profile's first target, unrecorded
            first = opts.profile.stages[0].target or opts.profile.peak
            await _drive(opts, scenario, scratch, rng,
                         Profile.held(first, opts.profile.open_loop, opts.warmup), None)
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
            await _drive(opts, scenario, client, rng, opts.profile, opts.requests)
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
    """Split the profile, the in-flight cap and the request budget over ``procs`` worker processes."""
    shares = [
        replace(opts, concurrency=_share(opts.concurrency, procs, i) or 1,
                requests=_share(opts.requests, procs, i), profile=opts.profile.share(procs),
                seed=opts.seed + i, run_id=f"{opts.run_id}p{i}")
        for i in range(procs)
    ]
    with ProcessPoolExecutor(max_workers=procs) as pool:
        return list(pool.map(_run_sync, shares))
