"""How many open connections each model holds: the WSGI twin's threads against one event loop.

1. Long-polls: N concurrent ``GET /contexts/wait?ms=HOLD`` (N = --polls), against the twin
   (gunicorn gthread, 1 worker, 8 threads) and one Hypercorn worker, interleaved. Each answer says
   when the server began to hold it (``started_at``) and how many it held then (``in_flight``):
   served at once (queued under HOLD/2) or queued for a thread, and how long the last one waited.
2. Sockets: one Hypercorn worker holds --sockets lab sockets (``/contexts/socket``). VmRSS of the
   worker before and after they open (memory per socket); utime+stime of the worker over
   --idle-seconds with the sockets open, minus the same span with none (CPU per idle socket per
   minute); every socket verified before and after the idle span.
3. What the twin would need to hold as many: gunicorn gthread with one thread per connection
   (``--threads`` = --sockets), all held at once: its worker's VmRSS and thread count.

Loopback only, every phase bounded. The file-descriptor limit is raised here, before the servers
start: they inherit it. Writes bench/results/<date>-sockets.md (or --out).

    python -m bench.twin_hold --polls 50,100,200 --hold-ms 1000 --sockets 1000 --idle-seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.servers import (
    CLOCK_TICKS,
    NO_ADMISSION_LIMIT,
    ROOT,
    Server,
    free_port,
    running_server,
)

BIN = Path(sys.executable).parent
TWIN_THREADS = 8


def status(pid: int, key: str) -> int:
    """A number from /proc/<pid>/status (VmRSS in kB, Threads)."""
    with open(f"/proc/{pid}/status") as lines:
        for line in lines:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def session(total_s: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                 timeout=aiohttp.ClientTimeout(total=total_s))


async def long_polls(base: str, count: int, hold_ms: int) -> dict[str, Any]:
    async with session(120) as client:

        async def one() -> tuple[dict[str, Any], float, float]:
            sent = time.time()
            async with client.get(f"{base}/contexts/wait?ms={hold_ms}") as response:
                assert response.status == 200, await response.text()
                body: dict[str, Any] = await response.json()
            return body, sent, time.time()

        started = time.perf_counter()
        answers = await asyncio.gather(*(one() for _ in range(count)))
        wall = time.perf_counter() - started
    queued = [body["started_at"] - sent for body, sent, _ in answers]
    at_once = sum(delay < hold_ms / 2000 for delay in queued)
    return {"n": count, "held_at_once": max(body["in_flight"] for body, _, _ in answers),
            "served_at_once": at_once, "queued": count - at_once, "longest_queue_s": max(queued),
            "last_answer_s": max(done - sent for _, sent, done in answers), "wall_s": wall,
            "threads": len({body["thread_id"] for body, _, _ in answers})}


async def verify_round(conns: list[aiohttp.ClientWebSocketResponse], tokens: list[str],
                       rng: random.Random) -> int:
    """Every socket speaks at once; every answer must carry its own token. Returns max in_flight."""

    async def speak(ws: aiohttp.ClientWebSocketResponse, token: str) -> int:
        await ws.send_str(json.dumps({"say": token, "delay_ms": rng.randint(0, 200)}))
        reply = json.loads(await ws.receive_str(timeout=120))
        assert reply["g"] == reply["contextvar"] == reply["websocket_arg"] == reply["say"] == token, reply
        return int(reply["in_flight"])

    return max(await asyncio.gather(*(speak(ws, t) for ws, t in zip(conns, tokens, strict=True))))


async def hold_sockets(base: str, count: int, idle_s: float) -> dict[str, Any]:
    url = base.replace("http://", "ws://", 1) + "/contexts/socket?token="
    rng = random.Random(11)
    async with session(idle_s + 300) as client:
        warm = [await client.ws_connect(url + f"warm{i}") for i in range(20)]  # code paths, caches
        pid = int((await warm[0].receive_json())["pid"])
        for ws in warm:
            await ws.close()
        await asyncio.sleep(1)
        cpu0 = cpu_s(pid)
        await asyncio.sleep(idle_s)  # the worker with no socket open: its own background ticks
        baseline_cpu = cpu_s(pid) - cpu0
        rss0, vm0 = status(pid, "VmRSS"), status(pid, "VmSize")
        tokens = [secrets.token_hex(8) for _ in range(count)]
        opened = time.perf_counter()
        conns = list(await asyncio.gather(*(client.ws_connect(url + t) for t in tokens)))
        hellos = await asyncio.gather(*(ws.receive_json(timeout=120) for ws in conns))
        open_s = time.perf_counter() - opened
        assert {hello["pid"] for hello in hellos} == {pid}, "more than one worker answered"
        first_in_flight = await verify_round(conns, tokens, rng)
        rss1 = status(pid, "VmRSS")
        cpu1 = cpu_s(pid)
        await asyncio.sleep(idle_s)  # all of them open, all silent
        idle_cpu = cpu_s(pid) - cpu1
        rss2, vm2 = status(pid, "VmRSS"), status(pid, "VmSize")
        second_in_flight = await verify_round(conns, tokens, rng)
        await asyncio.gather(*(ws.close() for ws in conns))
        await asyncio.sleep(1)
        rss3 = status(pid, "VmRSS")
    per_minute = 60 / idle_s
    return {"n": count, "open_s": open_s, "rss_before_kb": rss0, "rss_open_kb": rss1,
            "rss_after_idle_kb": rss2, "rss_closed_kb": rss3, "vm_before_kb": vm0, "vm_open_kb": vm2,
            "kb_per_socket": (rss2 - rss0) / count, "idle_cpu_ms_per_min": idle_cpu * 1000 * per_minute,
            "baseline_cpu_ms_per_min": baseline_cpu * 1000 * per_minute,
            "cpu_us_per_socket_min": max(0.0, idle_cpu - baseline_cpu) * 1e6 * per_minute / count,
            "in_flight": max(first_in_flight, second_in_flight)}


async def thread_per_connection(server: Server, count: int, hold_ms: int) -> dict[str, Any]:
    worker = server.pids()[1]  # gunicorn's master, then its one worker
    rss0, vm0, threads0 = status(worker, "VmRSS"), status(worker, "VmSize"), status(worker, "Threads")
    polls = asyncio.ensure_future(long_polls(server.url, count, hold_ms))
    await asyncio.sleep(2)  # all sent and held (the thread count says so), none answered yet
    rss1, vm1, threads1 = status(worker, "VmRSS"), status(worker, "VmSize"), status(worker, "Threads")
    cpu1, window = cpu_s(worker), hold_ms / 1000 - 3.5
    await asyncio.sleep(window)  # every thread blocked in its wait
    idle_cpu = cpu_s(worker) - cpu1
    result = await polls
    return {"n": count, "rss_before_kb": rss0, "rss_held_kb": rss1, "vm_before_kb": vm0, "vm_held_kb": vm1,
            "threads_before": threads0, "threads_held": threads1, "kb_per_connection": (rss1 - rss0) / count,
            "held_cpu_ms_per_min": idle_cpu * 1000 * 60 / window, "window_s": window, **{
                key: result[key] for key in ("held_at_once", "queued", "last_answer_s")}}


def report(args: argparse.Namespace, polls: list[tuple[str, dict[str, Any]]], held: dict[str, Any],
           threads: dict[str, Any] | None, command: str) -> str:
    lines = [f"# Open connections: a thread each or a task each ({datetime.now(UTC):%Y-%m-%d})", "",
             f"`{command}` — {os.cpu_count()} cores, Python {platform.python_version()}, loopback only. "
             "The twin: gunicorn gthread, 1 worker, 8 threads; the async app: conduit-serve, "
             "1 Hypercorn worker (uvloop), SQLite, development mode.", "",
             f"## Long-polls held ({args.hold_ms} ms each, all sent at once)", "",
             "| server | sent | held at once | served at once | queued for a thread | longest queue s "
             "| last answer s | wall s | distinct threads |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in polls:
        lines.append(f"| {name} | {r['n']} | {r['held_at_once']} | {r['served_at_once']} | {r['queued']} | "
                     f"{r['longest_queue_s']:.2f} | {r['last_answer_s']:.2f} | {r['wall_s']:.2f} | "
                     f"{r['threads']} |")
    h = held
    lines += ["", f"## {h['n']} lab sockets open in one Hypercorn worker", "",
              "| measure | value |", "|---|---:|",
              f"| sockets opened at once (each verified before and after the idle span) | {h['n']} "
              f"(in {h['open_s']:.2f} s) |",
              f"| worker VmRSS before / with them open / after {args.idle_seconds} s idle / closed, MiB "
              f"| {h['rss_before_kb'] / 1024:.1f} / {h['rss_open_kb'] / 1024:.1f} / "
              f"{h['rss_after_idle_kb'] / 1024:.1f} / {h['rss_closed_kb'] / 1024:.1f} |",
              f"| memory per open socket (VmRSS, after the idle span) | {h['kb_per_socket']:.1f} KiB |",
              f"| worker VmSize before / with them open, MiB | {h['vm_before_kb'] / 1024:.0f} / "
              f"{h['vm_open_kb'] / 1024:.0f} |",
              f"| worker CPU, idle with no socket / with {h['n']} idle sockets | "
              f"{h['baseline_cpu_ms_per_min']:.0f} / {h['idle_cpu_ms_per_min']:.0f} ms per minute |",
              f"| CPU per idle socket (the difference / {h['n']}) | {h['cpu_us_per_socket_min']:.1f} µs "
              "per minute |",
              f"| messages mid-await at once in a verification round | {h['in_flight']} |"]
    if threads is not None:
        t = threads
        lines += ["", f"## The twin with a thread per connection ({t['n']} threads, {t['n']} "
                  f"long-polls of {args.thread_hold_ms} ms held)", "",
                  "| measure | value |", "|---|---:|",
                  f"| worker threads before / while holding | {t['threads_before']} / {t['threads_held']} |",
                  f"| worker VmRSS before / while holding, MiB | {t['rss_before_kb'] / 1024:.1f} / "
                  f"{t['rss_held_kb'] / 1024:.1f} |",
                  f"| memory per held connection (VmRSS) | {t['kb_per_connection']:.1f} KiB |",
                  f"| worker VmSize before / while holding, MiB (thread stacks reserved, mostly untouched) "
                  f"| {t['vm_before_kb'] / 1024:.0f} / {t['vm_held_kb'] / 1024:.0f} |",
                  f"| worker CPU while {t['n']} threads wait ({t['window_s']:.1f} s span) | "
                  f"{t['held_cpu_ms_per_min']:.0f} ms per minute |",
                  f"| held at once / queued / last answer | {t['held_at_once']} / {t['queued']} / "
                  f"{t['last_answer_s']:.2f} s |"]
    return "\n".join(lines) + "\n"


async def measure(args: argparse.Namespace, app: Server, twin: Server, work: Path, env: dict[str, str]
                  ) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any], dict[str, Any] | None]:
    polls: list[tuple[str, dict[str, Any]]] = []
    for count in [int(n) for n in args.polls.split(",")]:  # interleaved: twin, async, twin, async
        for name, server in ((f"twin ({TWIN_THREADS} threads)", twin), ("Hypercorn, 1 worker", app)):
            polls.append((name, await long_polls(server.url, count, args.hold_ms)))
            print(name, polls[-1], flush=True)
    held = await hold_sockets(app.url, args.sockets, args.idle_seconds)
    print("sockets", held, flush=True)
    if not args.thread_twin:
        return polls, held, None
    port = free_port()
    command = [str(BIN / "gunicorn"), "--worker-class", "gthread", "--workers", "1", "--threads",
               str(args.sockets), "--worker-connections", str(args.sockets + 100), "--no-control-socket",
               "--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null", "app.contexts.wsgi_twin:app"]
    with running_server(command, env=env, probe=f"http://127.0.0.1:{port}/contexts/wait?ms=0",
                        log=work / "thread-twin.log", timeout=60) as wide:
        threads = await thread_per_connection(wide, args.sockets, args.thread_hold_ms)
    print("thread per connection", threads, flush=True)
    return polls, held, threads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--polls", default="50,100,200", help="concurrent long-polls, comma-separated")
    parser.add_argument("--hold-ms", type=int, default=1000, help="how long each long-poll waits")
    parser.add_argument("--sockets", type=int, default=1000, help="lab sockets held open at once")
    parser.add_argument("--idle-seconds", type=float, default=60, help="idle span measured (twice)")
    parser.add_argument("--thread-twin", action=argparse.BooleanOptionalAction, default=True,
                        help="also hold --sockets long-polls on a twin with that many threads")
    parser.add_argument("--thread-hold-ms", type=int, default=10_000,
                        help="how long each of those waits (at least 5000: read inside it)")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "bench" / "results" / f"{datetime.now(UTC):%Y-%m-%d}-sockets.md")
    args = parser.parse_args(argv)
    if args.thread_hold_ms < 5000:
        parser.error("--thread-hold-ms must be at least 5000")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))  # the servers inherit it
    work = Path(tempfile.mkdtemp(prefix="conduit-sockets-"))
    env = {**os.environ, **NO_ADMISSION_LIMIT,
            "CONDUIT_ENV": "development", "CONDUIT_LOG_LEVEL": "WARNING",
           "CONDUIT_RATE_LIMITS": "off", "CONDUIT_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'bench.db'}"}
    subprocess.run([str(BIN / "quart"), "--app", "app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    app_port, twin_port = free_port(), free_port()
    app_cmd = [str(BIN / "conduit-serve"), "--bind", f"127.0.0.1:{app_port}", "--workers", "1",
               "--access-logfile", "/dev/null"]
    twin_cmd = [str(BIN / "gunicorn"), "--worker-class", "gthread", "--workers", "1", "--threads",
                str(TWIN_THREADS), "--no-control-socket", "--bind", f"127.0.0.1:{twin_port}",
                "--access-logfile", "/dev/null", "app.contexts.wsgi_twin:app"]
    with running_server(app_cmd, env=env, probe=f"http://127.0.0.1:{app_port}/healthz",
                        log=work / "app.log", timeout=60) as app, \
            running_server(twin_cmd, env=env, probe=f"http://127.0.0.1:{twin_port}/contexts/wait?ms=0",
                           log=work / "twin.log", timeout=60) as twin:
        polls, held, threads = asyncio.run(measure(args, app, twin, work, env))
    command = "python -m bench.twin_hold " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(args, polls, held, threads, command.strip())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
