"""conduit-serve's process supervisor: N Hypercorn workers kept alive.

Hypercorn's own master (``hypercorn.run.run``) stops every worker as soon as one dies, then exits 0
when the dead one was killed by a signal: one worker taken by the OOM killer, or by SIGBUS from a
truncated SQLite file, took the whole server down and a supervisor's restart-on-failure never
fired. This one binds the sockets once, as Hypercorn's does, and then:

- a worker that dies is replaced, after a pause that doubles while it keeps dying young
  (0.5 s, 1 s, 2 s, 4 s); a worker that lived ``HEALTHY_AFTER_S`` starts its slot afresh;
- a crash loop (``CRASH_LOOP`` young deaths in a row in one slot: a broken deployment, not bad
  luck) stops the server with one line and exit status 1;
- SIGTERM or SIGINT drains: the workers stop accepting, finish what is in flight (up to
  Hypercorn's ``graceful_timeout``) and exit; the server exits 0.

Workers ignore SIGTERM and SIGINT themselves (a Ctrl-C or a systemd stop reaches the whole process
group; draining is the master's call) and die with the master if it is killed (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import wait
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.synchronize import Event
from typing import Any

from hypercorn.config import Config, Sockets
from hypercorn.typing import WorkerFunc

HEALTHY_AFTER_S = 10.0  # a worker that lived this long was not crash-looping
CRASH_LOOP = 5  # young deaths in a row in one slot
FIRST_PAUSE_S = 0.5
PR_SET_PDEATHSIG = 1

log = logging.getLogger("conduit.serve")


def worker_function(config: Config) -> WorkerFunc:
    if config.worker_class == "uvloop":
        from hypercorn.asyncio.run import uvloop_worker

        return uvloop_worker
    if config.worker_class == "asyncio":
        from hypercorn.asyncio.run import asyncio_worker

        return asyncio_worker
    raise SystemExit(f"conduit-serve: worker_class {config.worker_class!r} is not supported "
                     "(use uvloop or asyncio)")


def close_idle_http2() -> None:
    """Hypercorn 0.18 starts no keep-alive timer on a cleartext HTTP/2 connection (h2c): one that
    sent only the preface, or went quiet after its requests, was held forever (500 such
    connections were all open after 120 s). Say the new connection is idle when it is, as an
    HTTP/1.1 one does: the keep-alive timeout then closes it, and a request stops the timer."""
    from hypercorn.events import Updated
    from hypercorn.protocol.h2 import H2Protocol

    original = H2Protocol.initiate
    if getattr(original, "closes_when_idle", False):
        return

    async def initiate(self: H2Protocol, headers: list[tuple[bytes, bytes]] | None = None,
                       settings: bytes | None = None) -> None:
        await original(self, headers, settings)
        await self.send(Updated(idle=self.idle))

    initiate.closes_when_idle = True  # type: ignore[attr-defined]
    H2Protocol.initiate = initiate  # type: ignore[method-assign]


def run_worker(function: WorkerFunc, config: Config, sockets: Sockets, shutdown: Event,
               master: int) -> None:
    """A worker process's entry point (spawned: it must be importable and its arguments picklable)."""
    close_idle_http2()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != master:  # the master died before prctl took effect
        return
    function(config, sockets, shutdown)


def describe(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"was killed by {signal.Signals(-exitcode).name}"
    return f"exited with status {exitcode}"


@dataclass
class Slot:
    process: SpawnProcess | None = None
    started: float = 0.0
    young_deaths: int = 0
    restart_at: float = 0.0
    last: str = field(default="")


class Supervisor:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.function = worker_function(config)
        self.context: SpawnContext = get_context("spawn")
        self.shutdown = self.context.Event()
        self.slots = [Slot() for _ in range(max(config.workers, 1))]
        self.stopping = False

    def stop(self, *_: Any) -> None:
        self.stopping = True
        self.shutdown.set()

    def start(self, slot: Slot, sockets: Sockets) -> None:
        process = self.context.Process(
            target=run_worker,
            args=(self.function, self.config, sockets, self.shutdown, os.getpid()),
        )
        process.start()
        slot.process, slot.started = process, time.monotonic()

    def reap(self, slot: Slot, process: SpawnProcess) -> bool:
        """Note a dead worker and when to replace it; False when its slot is crash-looping."""
        process.join()
        now = time.monotonic()
        lived = now - slot.started
        slot.process = None
        slot.last = describe(process.exitcode)
        slot.young_deaths = slot.young_deaths + 1 if lived < HEALTHY_AFTER_S else 1
        if slot.young_deaths >= CRASH_LOOP:
            return False
        pause = FIRST_PAUSE_S * 2 ** (slot.young_deaths - 1) if lived < HEALTHY_AFTER_S else 0.0
        slot.restart_at = now + pause
        log.warning("conduit-serve: worker %s %s after %.1f s; starting another in %.1f s",
                    process.pid, slot.last, lived, pause)
        return True

    def run(self, sockets: Sockets) -> int:
        for name in ("SIGINT", "SIGTERM"):
            signal.signal(getattr(signal, name), self.stop)
        for slot in self.slots:
            self.start(slot, sockets)
        while not self.stopping:
            alive = [slot.process.sentinel for slot in self.slots if slot.process is not None]
            wait(alive, timeout=0.25)
            for slot in self.slots:
                dead = slot.process is not None and slot.process.exitcode is not None
                if dead and slot.process is not None and not self.reap(slot, slot.process):
                    self.stop()
                    self.drain()
                    print(f"conduit-serve: workers keep dying as they start ({CRASH_LOOP} in a row; "
                          f"the last {slot.last}); stopping", file=sys.stderr)
                    return 1
                if slot.process is None and not self.stopping and time.monotonic() >= slot.restart_at:
                    self.start(slot, sockets)
        self.drain()
        return 0

    def drain(self) -> None:
        """Wait for the workers to finish in-flight requests, then make sure they are gone."""
        deadline = time.monotonic() + self.config.graceful_timeout + 5
        for slot in self.slots:
            if slot.process is not None:
                slot.process.join(max(deadline - time.monotonic(), 0.1))
                if slot.process.exitcode is None:
                    slot.process.kill()
                    slot.process.join()


def serve(config: Config) -> int:
    """Hypercorn's ``run``, supervised: what ``hypercorn.__main__`` calls once it built ``config``."""
    if config.workers == 0 or config.use_reloader:
        from hypercorn.run import run

        return run(config)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sockets = config.create_sockets()
    try:
        return Supervisor(config).run(sockets)
    finally:
        for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
            sock.close()
