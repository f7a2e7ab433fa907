"""``python -m bench.observe_cost``: what the metrics cost a request, in CPU microseconds, measured
in one process where the machine's noise cannot hide a few percent (bench.cost's figures move by
more than that between runs on a shared machine).

Multiprocess mode, as conduit-serve runs it (a folder of its own). Interleaved rounds of:

- a request through ``Observe`` (app/observe/layer.py) to an app that answers at once, with the
  metrics as shipped, and with the two metrics calls (in flight, ``observe_request``) made no-ops;
- a pooled connection checked out and in (``engine.connect()``) on a SQLite engine, with
  ``ObservedPool`` and with SQLAlchemy's own pool.

The differences are the metrics' cost; bench.cost's CPU per request (2-5 ms) is what to divide by.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

FOLDER = tempfile.mkdtemp(prefix="conduit-observe-cost-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = FOLDER  # before prometheus-client is first imported

from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402
from sqlalchemy.pool import AsyncAdaptedQueuePool  # noqa: E402

from app.observe import layer, metrics  # noqa: E402
from app.observe.pool import ObservedPool  # noqa: E402


class Off:
    """A gauge that does nothing: the layer's in-flight calls, off."""

    def inc(self) -> None: ...

    def dec(self) -> None: ...


async def answer(_scope: Any, _receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


SCOPE = {"type": "http", "method": "GET", "path": "/api/articles", "query_string": b"",
         "http_version": "1.1", "headers": [(b"host", b"conduit.test")], "client": ("127.0.0.1", 1)}


async def requests(app: Any, n: int) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Any) -> None: ...

    for _ in range(n):
        await app(SCOPE, receive, send)


def cpu_us(run: Callable[[], Coroutine[Any, Any, None]], n: int) -> float:
    started = time.process_time()
    asyncio.run(run())
    return (time.process_time() - started) * 1e6 / n


def layer_round(n: int, on: bool) -> float:
    observe = layer.Observe(answer, proxies=(), slow_s=float("inf"), probes=frozenset())
    saved = metrics.observe_request, metrics.IN_FLIGHT
    if not on:
        metrics.observe_request = lambda *_args: None
        metrics.IN_FLIGHT = Off()  # type: ignore[assignment]
    try:
        return cpu_us(lambda: requests(observe, n), n)
    finally:
        metrics.observe_request, metrics.IN_FLIGHT = saved


def pool_round(n: int, observed: bool, database: Path) -> float:
    async def checkouts() -> None:
        # No rollback on return (a trip to aiosqlite's thread, whose timing would drown the
        # difference): what is measured is the pool's own work, with and without the metrics.
        engine = create_async_engine(f"sqlite+aiosqlite:///{database}", pool_size=5, max_overflow=0,
                                     pool_reset_on_return=None,
                                     poolclass=ObservedPool if observed else AsyncAdaptedQueuePool)
        async with engine.connect():
            pass  # the connection made before the clock matters
        started = time.process_time()
        for _ in range(n):
            async with engine.connect():
                pass
        rounds.append((time.process_time() - started) * 1e6 / n)
        await engine.dispose()

    rounds: list[float] = []
    asyncio.run(checkouts())
    return rounds[0]


def main() -> int:
    ask = argparse.ArgumentParser(prog="python -m bench.observe_cost", description=__doc__)
    ask.add_argument("--rounds", type=int, default=9)
    ask.add_argument("--requests", type=int, default=20000)
    ask.add_argument("--checkouts", type=int, default=5000)
    args = ask.parse_args()
    database = Path(FOLDER) / "pool.db"
    figures: dict[str, list[float]] = {"layer on": [], "layer off": [], "pool on": [], "pool off": []}
    for _ in range(args.rounds):
        figures["layer on"].append(layer_round(args.requests, True))
        figures["layer off"].append(layer_round(args.requests, False))
        figures["pool on"].append(pool_round(args.checkouts, True, database))
        figures["pool off"].append(pool_round(args.checkouts, False, database))
    median = {name: statistics.median(values) for name, values in figures.items()}
    print("| what | with metrics, CPU us | without | the metrics' cost, us |")
    print("|---|---:|---:|---:|")
    for what, on, off in (("a request through Observe", "layer on", "layer off"),
                          ("a pooled connection out and in", "pool on", "pool off")):
        print(f"| {what} | {median[on]:.1f} | {median[off]:.1f} | {median[on] - median[off]:.1f} |")
    print(f"\n(medians of {args.rounds} interleaved rounds of {args.requests} requests and "
          f"{args.checkouts} checkouts)")
    written = sorted(path.name for path in Path(FOLDER).glob("*.db") if path.name != "pool.db")
    shutil.rmtree(FOLDER, ignore_errors=True)
    return 0 if written else 1  # the figures went to the multiprocess files, as in a server


if __name__ == "__main__":
    raise SystemExit(main())
