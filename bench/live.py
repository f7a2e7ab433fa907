"""Live updates under load: the load generator's ``live`` scenario against conduit-serve with two
workers, on SQLite (the hubs poll the event log every 50 ms) and on PostgreSQL (LISTEN/NOTIFY).

For each database: a fresh, migrated database (nothing else in it), one server in production mode
with rate limits off and the per-address socket limit raised (every subscriber comes from
127.0.0.1), then one run per subscriber count. Each run opens S sockets on one article, and W
writers comment on it and toggle their favorite at a fixed total rate; every subscriber must get
every acknowledged write's event exactly once and in order. Reported: lost, duplicated and
out-of-order events (any fails the bench), delivery latency from a write's answer to a
subscriber's receipt, and the server's CPU (utime+stime of the master and workers from /proc)
per delivered event, read between the runs' phases: from every socket open to every event in.

    python -m bench.live --db both --subscribers 100,1000 --writes 200,100 --write-rate 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from loadtest.live import LiveOptions, run_live
from tests.support.servers import (
    NO_ADMISSION_LIMIT,
    ROOT,
    Server,
    create_pg_database,
    drop_pg_database,
    free_port,
    pg_url,
    postgres_cpu_seconds,
    running_server,
)

BIN = Path(sys.executable).parent
LOG_WORDS = ("Traceback", "ERROR", "CRITICAL", "WARNING")


@contextmanager
def migrated_database(backend: str, work: Path) -> Iterator[str]:
    """An empty database with the schema: the runs make their own accounts and article."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{work / f'live-{secrets.token_hex(3)}.db'}"
    else:
        name = f"conduit_live_{os.getpid()}_{secrets.token_hex(3)}"
        create_pg_database(name)
        url = pg_url(name)
    try:
        env = {**os.environ, "CONDUIT_DATABASE_URL": url, "CONDUIT_ENV": "development"}
        subprocess.run([str(BIN / "quart"), "--app", "app", "db", "upgrade"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        yield url
    finally:
        if backend != "sqlite":
            drop_pg_database(url.rsplit("/", 1)[1])


def server_env(url: str) -> dict[str, str]:
    return {**os.environ, **NO_ADMISSION_LIMIT,
            "CONDUIT_ENV": "production", "CONDUIT_DATABASE_URL": url,
            "CONDUIT_SECRET_KEY": secrets.token_urlsafe(48), "CONDUIT_LOG_LEVEL": "WARNING",
            "CONDUIT_RATE_LIMITS": "off", "CONDUIT_LIVE_SOCKETS_PER_ADDRESS": "100000"}


def command_line(opts: LiveOptions) -> str:
    rate = f" --write-rate {opts.write_rate:g}" if opts.write_rate else ""
    return (f"python -m loadtest --url $APP --scenario live --subscribers {opts.subscribers} "
            f"--writers {opts.writers} --writes {opts.writes}{rate} --seed {opts.seed}")


def one_run(server: Server, backend: str, opts: LiveOptions) -> dict[str, Any]:
    """The scenario in this process, the server's CPU read at each phase."""
    marks: dict[str, tuple[float, float]] = {}

    def phase(name: str) -> None:
        marks[name] = (server.cpu_seconds(), postgres_cpu_seconds() if backend == "postgresql" else 0.0)

    report = asyncio.run(run_live(opts, phase))
    report.update(backend=backend, command=command_line(opts))
    if "setup_error" in report:
        return report
    (app0, _db0), (app1, db1), (app2, db2) = marks["ready"], marks["connected"], marks["settled"]
    delivered = report["deliveries"] or float("nan")
    report["server_cpu_s"] = round(app2 - app1, 3)
    report["cpu_ms_per_delivery"] = (app2 - app1) * 1000 / delivered
    report["db_cpu_ms_per_delivery"] = (db2 - db1) * 1000 / delivered
    report["cpu_ms_per_socket"] = (app1 - app0) * 1000 / max(report["connected"], 1)
    return report


def log_lines(log: Path) -> list[str]:
    """What the server said at WARNING or above (nothing, in a clean run)."""
    if not log.exists():
        return []
    return [line for line in log.read_text(errors="replace").splitlines()
            if any(word in line for word in LOG_WORDS)]


def run_backend(backend: str, levels: list[tuple[int, int]], args: argparse.Namespace,
                work: Path) -> list[dict[str, Any]]:
    reports = []
    log = work / f"{backend}-serve.log"
    with migrated_database(backend, work) as url:
        port = free_port()
        command = [str(BIN / "conduit-serve"), "--bind", f"127.0.0.1:{port}", "--workers",
                   str(args.workers), "--access-logfile", "/dev/null"]
        with running_server(command, probe=f"http://127.0.0.1:{port}/healthz", env=server_env(url),
                            log=log, timeout=60) as server:
            for subscribers, writes in levels:
                opts = LiveOptions(url=server.url, subscribers=subscribers, writers=args.writers,
                                   writes=writes, write_rate=args.write_rate or None, comment_share=0.5,
                                   settle=args.settle, timeout=30.0, seed=args.seed,
                                   run_id=secrets.token_hex(3))
                report = one_run(server, backend, opts)
                reports.append(report)
                print(summary_line(report), flush=True)
    said = log_lines(log)
    for report in reports:
        report["server_log"] = said[-20:]
    return reports


def summary_line(r: dict[str, Any]) -> str:
    if "setup_error" in r:
        return f"live {r['backend']}: cannot run: {r['setup_error']}"
    return (f"live {r['backend']:10} {r['subscribers']:5} subscribers: {r['deliveries']}/"
            f"{r['deliveries_expected']} delivered, lost {r['lost']}, duplicated {r['duplicated']}, "
            f"out of order {r['out_of_order']}; p50 {r['latency_ms']['p50']:.1f} ms, p99 "
            f"{r['latency_ms']['p99']:.1f} ms, max {r['latency_ms']['max']:.1f} ms; "
            f"{r['cpu_ms_per_delivery']:.3f} ms CPU/delivery; {'passed' if r['passed'] else 'FAILED'}")


def _rate(rate: float | None) -> str:
    return f"{rate:g}/s" if rate else "full speed"


def markdown(reports: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    lines = ["## Live updates: S subscribers, W writers, 2 workers", "",
             f"`python -m bench.live --db {args.db} --subscribers {args.subscribers} --writes "
             f"{args.writes} --writers {args.writers} --write-rate {args.write_rate:g} --workers "
             f"{args.workers}` — {os.cpu_count()} cores, loopback, production mode, a fresh database "
             "per backend. Latency: from a write's answer arriving to a subscriber receiving its "
             "event (an event received before its answer counts 0; `early` says how many). "
             "`all had it`: per write, until the last subscriber had it. CPU: the server's "
             "utime+stime from every socket open to every event in (it includes handling the "
             "writes themselves), per delivered event; per socket, from the accounts made to "
             "every socket open.", "",
             "| database | subscribers | writers | writes | deliveries | lost | duplicated | "
             "out of order | p50 ms | p99 ms | max ms | all had it p99 ms | early | connect s | "
             "server CPU ms/delivery | PostgreSQL CPU ms/delivery | CPU ms/socket | client CPU | result |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    failures: list[str] = []
    for r in reports:
        if "setup_error" in r:
            lines.append(f"| {r['backend']} | **cannot run: {r['setup_error']}** |" + " |" * 17)
            continue
        lat, done = r["latency_ms"], r["complete_ms"]
        db = f"{r['db_cpu_ms_per_delivery']:.3f}" if r["backend"] == "postgresql" else "—"
        lines.append(
            f"| {r['backend']} | {r['subscribers']} | {r['writers']} | {r['writes']['acknowledged']}"
            f" at {_rate(r['writes']['rate'])} | {r['deliveries']} of {r['deliveries_expected']} | "
            f"{r['lost']} | {r['duplicated']} | {r['out_of_order']} | {lat['p50']:.1f} | "
            f"{lat['p99']:.1f} | {lat['max']:.1f} | {done['p99']:.1f} | {r['before_ack']} | "
            f"{r['connect_s']:.2f} | {r['cpu_ms_per_delivery']:.3f} | {db} | "
            f"{r['cpu_ms_per_socket']:.2f} | {r['client_cpu']:.0%} | "
            f"{'passed' if r['passed'] else '**FAILED**'} |")
        if not r["passed"]:
            failures += ["", f"{r['backend']}, {r['subscribers']} subscribers failed:", "", "```",
                         *r["sample_errors"], "```"]
    said = sorted({line for r in reports for line in r.get("server_log", [])})
    if said:
        failures += ["", "The server logged:", "", "```", *said[-20:], "```"]
    return [*lines, *failures, "", "Commands (the bench runs them in-process to read the CPU "
            "between phases):", "", "```", *[r["command"] for r in reports], "```", ""]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--subscribers", default="100,1000", help="comma-separated subscriber counts")
    parser.add_argument("--writes", default="200,100", help="writes per run: one, or one per count")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--write-rate", type=float, default=10.0,
                        help="writes per second in all (0: each writer as fast as its answers come)")
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the markdown report here")
    parser.add_argument("--json", type=Path, help="write the raw reports here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    counts = [int(x) for x in args.subscribers.split(",")]
    writes = [int(x) for x in args.writes.split(",")]
    if len(writes) not in (1, len(counts)):
        raise SystemExit("bench.live: --writes takes one number or one per subscriber count")
    levels = list(zip(counts, writes * len(counts) if len(writes) == 1 else writes, strict=True))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # the servers inherit it
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    reports: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="conduit-live-") as tmp:
        for backend in backends:
            reports += run_backend(backend, levels, args, Path(tmp))
    text = "\n".join(markdown(reports, args))
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1, default=str))
    return 0 if reports and all(r.get("passed") for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
