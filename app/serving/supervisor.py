"""conduit-serve's process supervisor: N Hypercorn workers kept alive.

Hypercorn's own master (``hypercorn.run.run``) stops every worker as soon as one dies, then exits 0
when the dead one was killed by a signal: one worker taken by the OOM killer, or by SIGBUS from a
truncated SQLite file, took the whole server down and a supervisor's restart-on-failure never
fired. This one binds the sockets once, as Hypercorn's does, and then:

- a worker that dies is replaced, after a pause that doubles while it keeps dying young
  (0.5 s, 1 s, 2 s, 4 s); a worker that lived ``HEALTHY_AFTER_S`` (or exited 0: recycled after
  Hypercorn's ``max_requests``) starts its slot afresh, after 0.5 s;
- a crash loop (``CRASH_LOOP`` young deaths in a row in one slot: a broken deployment, not bad
  luck) stops the server with one line and exit status 1;
- SIGTERM or SIGINT drains: the workers stop accepting, finish what is in flight (up to
  Hypercorn's ``graceful_timeout``) and exit; the server exits 0. SIGHUP drains the workers and
  starts new ones, as Hypercorn's master does.

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
import urllib.request
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import wait
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.synchronize import Event
from typing import Any

from hypercorn.config import Config, Sockets
from hypercorn.typing import WorkerFunc
from hypercorn.utils import write_pid_file
from prometheus_client.multiprocess import mark_process_dead

from app.observe.shared import shared_metrics

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


def run_worker(function: WorkerFunc, config: Config, sockets: Sockets, shutdown: Event,
               master: int, replacement: bool = False) -> None:
    """A worker process's entry point (spawned: it must be importable and its arguments picklable).
    ``replacement``: it replaces one that died (counted in the metrics, by the worker: the master
    imported the metrics before their folder was set)."""
    from app.live.transport import publish_connections  # the app's package: in workers only
    from app.observe import metrics
    from app.serving.upstream_fixes import close_idle_http2

    if replacement:
        metrics.RESTARTS.inc()

    close_idle_http2()
    publish_connections()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != master:  # the master died before prctl took effect
        return
    global _worker_shutdown
    _worker_shutdown = shutdown
    function(config, sockets, shutdown)


_worker_shutdown: Event | None = None  # in a worker: the master's "stop" flag


def shutting_down() -> bool:
    """In a supervised worker: the master asked every worker to stop (SIGTERM, SIGHUP)."""
    return _worker_shutdown is not None and _worker_shutdown.is_set()


def gone(process: SpawnProcess) -> None:
    """A worker that exited: its live gauges (in flight, pool, sockets) leave with it."""
    if process.pid is not None:
        mark_process_dead(process.pid)  # type: ignore[no-untyped-call]


def describe(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:  # a real-time signal has no name
            return f"was killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


@dataclass
class Slot:
    process: SpawnProcess | None = None
    started: float = 0.0
    young_deaths: int = 0
    restart_at: float = 0.0
    last: str = ""
    replacing: bool = False  # the next worker replaces one that died (not one recycled)


class Supervisor:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.function = worker_function(config)
        self.context: SpawnContext = get_context("spawn")
        self.shutdown = self.context.Event()
        self.slots = [Slot() for _ in range(max(config.workers, 1))]
        self.stopping = False
        self.reloading = False
        self.unannounced: list[tuple[str, str]] = []  # (address shown, probe URL)

    # Signal handlers only set a flag: the loop (awake every 0.25 s) does the rest, so a second
    # signal arriving mid-way cannot re-enter a lock.
    def stop(self, *_: Any) -> None:
        self.stopping = True

    def reload(self, *_: Any) -> None:
        self.reloading = True

    def start(self, slot: Slot, sockets: Sockets) -> None:
        process = self.context.Process(
            target=run_worker,
            args=(self.function, self.config, sockets, self.shutdown, os.getpid(), slot.replacing),
        )
        slot.started = time.monotonic()
        try:
            process.start()
        except OSError as error:  # out of memory or processes: as if it died at once
            slot.process = None
            log.warning("conduit-serve: cannot start a worker: %s", error)
            slot.young_deaths += 1
            slot.restart_at = slot.started + self.pause(slot)
            return
        slot.process = process

    def pause(self, slot: Slot) -> float:
        return float(FIRST_PAUSE_S * 2 ** max(min(slot.young_deaths, CRASH_LOOP) - 1, 0))

    def reap(self, slot: Slot, process: SpawnProcess) -> bool:
        """Note a dead worker and when to replace it; False when its slot is crash-looping.
        A worker that lived HEALTHY_AFTER_S, or was recycled (exit 0: Hypercorn's max_requests),
        starts its slot afresh; every replacement waits at least FIRST_PAUSE_S."""
        process.join()
        now = time.monotonic()
        lived = now - slot.started
        slot.process = None
        slot.last = describe(process.exitcode)
        gone(process)
        young = lived < HEALTHY_AFTER_S and process.exitcode != 0
        slot.replacing = process.exitcode != 0
        slot.young_deaths = slot.young_deaths + 1 if young else 1
        if slot.young_deaths >= CRASH_LOOP:
            return False
        slot.restart_at = now + self.pause(slot)
        log.warning("conduit-serve: worker %s %s after %.1f s; starting another in %.1f s",
                    process.pid, slot.last, lived, slot.restart_at - now)
        return True

    def run(self, sockets: Sockets) -> int:
        for name in ("SIGINT", "SIGTERM"):
            signal.signal(getattr(signal, name), self.stop)
        signal.signal(signal.SIGHUP, self.reload)  # as Hypercorn: new workers, old ones drained
        for slot in self.slots:
            self.start(slot, sockets)
        while not self.stopping:
            if self.reloading:
                self.reloading = False
                self.drain()
                self.shutdown.clear()
                for slot in self.slots:
                    slot.young_deaths, slot.restart_at, slot.process = 0, 0.0, None
                    slot.replacing = False
            alive = [slot.process.sentinel for slot in self.slots if slot.process is not None]
            wait(alive, timeout=0.25)
            self.announce()
            for slot in self.slots:
                dead = slot.process is not None and slot.process.exitcode is not None
                if dead and slot.process is not None and not self.reap(slot, slot.process):
                    self.drain()
                    log.error("conduit-serve: workers keep dying as they start (%s in a row; "
                              "the last %s); stopping", CRASH_LOOP, slot.last)
                    return 1
                if slot.process is None and not self.stopping and time.monotonic() >= slot.restart_at:
                    self.start(slot, sockets)
        log.info("Conduit is stopping: finishing the requests in flight (up to %g s)",
                 self.config.graceful_timeout)
        self.drain()
        return 0

    def announce(self) -> None:
        """Say where the server serves once a worker answers there (its probe, /healthz): not
        before, when a browser opened at once would wait on a worker still starting."""
        for shown, probe in list(self.unannounced):
            try:
                with urllib.request.urlopen(probe, timeout=0.2) as answer:
                    ready = answer.status == 200
            except (OSError, ValueError):
                ready = False
            if ready:
                self.unannounced.remove((shown, probe))
                log.info("Conduit is serving on %s with %s workers (Ctrl-C stops it)", shown,
                         self.config.workers)

    def drain(self) -> None:
        """Ask every worker to stop, wait for in-flight requests (up to graceful_timeout), then
        make sure they are gone."""
        self.shutdown.set()
        deadline = time.monotonic() + self.config.graceful_timeout + 5
        for slot in self.slots:
            if slot.process is not None:
                slot.process.join(max(deadline - time.monotonic(), 0.1))
                if slot.process.exitcode is None:
                    slot.process.kill()
                    slot.process.join()
                gone(slot.process)


def serve(config: Config) -> int:
    """Hypercorn's ``run``, supervised: serve ``config`` (built by app.serving.serve) in workers."""
    if config.workers == 0 or config.use_reloader:  # Hypercorn runs it itself
        from app.serving.upstream_fixes import close_idle_http2

        close_idle_http2()
        from hypercorn.run import run

        from app.live.transport import publish_connections

        publish_connections()
        return run(config)
    if config.pid_path is not None:
        write_pid_file(config.pid_path)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with shared_metrics():
        return supervise(config)


def supervise(config: Config) -> int:
    sockets = config.create_sockets()
    supervisor = Supervisor(config)
    for sock in sockets.insecure_sockets:
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        local = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        local = f"[{local}]" if ":" in local else local
        supervisor.unannounced.append((f"http://{shown}:{port}", f"http://{local}:{port}/healthz"))
    try:
        status = supervisor.run(sockets)
    finally:
        for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
            sock.close()
    if status == 0:  # else the reason was the last line
        log.info("Conduit stopped (its workers drained)")
    return status
