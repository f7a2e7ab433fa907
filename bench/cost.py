"""What a request costs: server CPU milliseconds per request, the app against the floor server.

For each database (SQLite, PostgreSQL) it seeds 50 users and 500 articles, starts the app
(``conduit-serve``, production mode) and the floor (``bench/floor.py``: bare Quart, one raw
statement per request) on the same Hypercorn settings, and runs wrk against each target in
interleaved rounds (app, floor, floor, app, ...). CPU is utime + stime of the master and every
worker from /proc, before and after each run, divided by the requests served. Reported: the
median CPU ms per request of each, the median of the per-round ratios, and throughput and p50/p99.
A last part compares 1 worker with 2 on ``/api/articles`` (throughput, interleaved).

    python -m bench.cost --db postgresql --rounds 3 --seconds 4
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.wrk import wrk
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
DEMO_EMAIL, DEMO_PASSWORD = "alice@conduit.test", "conduit-demo"


@dataclass(frozen=True)
class Target:
    name: str
    path: str  # {slug} and {author} are filled from the seeded data
    floor: bool  # the floor server answers it too
    signed_in: bool = False


TARGETS = (
    Target("GET /healthz", "/healthz", True),
    Target("GET /api/tags", "/api/tags", True),
    Target("GET /api/articles/<slug>", "/api/articles/{slug}", True),
    Target("GET /api/articles?limit=20", "/api/articles?limit=20", True),
    Target("GET /api/articles?limit=20 (token)", "/api/articles?limit=20", False, signed_in=True),
    Target("GET / (home page)", "/", False),
    Target("GET /article/<slug> (page)", "/article/{slug}", False),
    Target("GET /profile/<name> (page)", "/profile/{author}", False),
)


@contextmanager
def seeded_database(backend: str, work: Path) -> Iterator[str]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
    else:
        name = f"conduit_bench_{os.getpid()}_{secrets.token_hex(3)}"
        create_pg_database(name)
        url = pg_url(name)
    try:
        env = {**os.environ, "CONDUIT_DATABASE_URL": url, "CONDUIT_ENV": "development"}
        quart = [str(BIN / "quart"), "--app", "app"]
        subprocess.run([*quart, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        subprocess.run([*quart, "seed", "--users", "50", "--articles", "500"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        yield url
    finally:
        if backend != "sqlite":
            drop_pg_database(url.rsplit("/", 1)[1])


def server_env(url: str) -> dict[str, str]:
    return {**os.environ, **NO_ADMISSION_LIMIT,
            "CONDUIT_ENV": "production", "CONDUIT_DATABASE_URL": url,
            "CONDUIT_SECRET_KEY": secrets.token_urlsafe(48), "CONDUIT_LOG_LEVEL": "WARNING",
            "FLOOR_DATABASE_URL": url}


def app_command(port: int, workers: int) -> list[str]:
    return [str(BIN / "conduit-serve"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--access-logfile", "/dev/null"]


def floor_command(port: int, workers: int) -> list[str]:
    return [str(BIN / "hypercorn"), "--config", str(ROOT / "hypercorn.toml"), "--bind",
            f"127.0.0.1:{port}", "--workers", str(workers), "--access-logfile", "/dev/null",
            "bench.floor:app"]


def measure(server: Server, path: str, seconds: float, connections: int,
            headers: dict[str, str] | None = None) -> dict[str, Any]:
    before, database_before = server.cpu_seconds(), postgres_cpu_seconds()
    result = wrk(server.url + path, connections, seconds, headers=headers)
    used, database = server.cpu_seconds() - before, postgres_cpu_seconds() - database_before
    served = result["requests"] or float("nan")
    result["cpu_ms"] = used * 1000 / served
    result["db_cpu_ms"] = database * 1000 / served
    return result


def _sign_in(base: str) -> str:
    body = json.dumps({"user": {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}}).encode()
    request = urllib.request.Request(f"{base}/api/users/login", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        token: str = json.load(response)["user"]["token"]
        return token


def _first(base: str) -> dict[str, str]:
    with urllib.request.urlopen(f"{base}/api/articles?limit=1", timeout=10) as response:
        article = json.load(response)["articles"][0]
    return {"slug": article["slug"], "author": article["author"]["username"]}


def run_backend(backend: str, rounds: int, seconds: float, connections: int, workers: int,
                work: Path, targets: tuple[Target, ...] = TARGETS, scale: bool = True) -> dict[str, Any]:
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {}
    scaling: dict[str, list[dict[str, Any]]] = {"1": [], "2": []}
    with seeded_database(backend, work) as url, ExitStack() as stack:
        env = server_env(url)

        def start(command: list[str], name: str) -> Server:
            port = int(command[command.index("--bind") + 1].rsplit(":", 1)[1])
            return stack.enter_context(running_server(
                command, probe=f"http://127.0.0.1:{port}/healthz", env=env,
                log=work / f"{backend}-{name}.log"))

        app = start(app_command(free_port(), workers), "app")
        floor = start(floor_command(free_port(), workers), "floor")
        values = _first(app.url)
        token = _sign_in(app.url)
        for round_number in range(rounds):
            for target in targets:
                path = target.path.format(**values)
                headers = {"Authorization": f"Token {token}"} if target.signed_in else None
                pair = [("app", app), ("floor", floor)] if target.floor else [("app", app)]
                if round_number % 2:
                    pair.reverse()
                for label, server in pair:
                    result = measure(server, path, seconds, connections, headers)
                    rows.setdefault(target.name, {}).setdefault(label, []).append(result)
                    print(f"{backend:10} round {round_number + 1} {label:5} {target.name:38} "
                          f"{result['cpu_ms']:6.2f} ms CPU/req {result['rps']:8.1f} req/s "
                          f"errors {result['errors']}", flush=True)
        for round_number in range(rounds if scale else 0):
            if round_number == 0:
                one = start(app_command(free_port(), 1), "app-1-worker")
            order = [("1", one), (str(workers), app)]
            for label, server in order if round_number % 2 == 0 else order[::-1]:
                result = measure(server, "/api/articles?limit=20", seconds, connections)
                scaling.setdefault(label, []).append(result)
                print(f"{backend:10} round {round_number + 1} workers={label} /api/articles "
                      f"{result['rps']:8.1f} req/s {result['cpu_ms']:6.2f} ms CPU/req", flush=True)
    return {"rows": rows, "scaling": scaling, "workers": workers}


def median(results: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in results))


def report(backend: str, data: dict[str, Any]) -> list[str]:
    lines = [f"### {backend}", "",
             "| request | app CPU ms/req | floor CPU ms/req | ratio (median of rounds) | app req/s | "
             "app p50 ms | app p99 ms | errors | PostgreSQL CPU ms/req (app) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, by_server in data["rows"].items():
        app = by_server["app"]
        floor = by_server.get("floor")
        ratio = statistics.median(a["cpu_ms"] / f["cpu_ms"] for a, f in zip(app, floor, strict=True)) \
            if floor else None
        errors = sum(r["errors"] for results in by_server.values() for r in results)
        lines.append(
            f"| {name} | {median(app, 'cpu_ms'):.2f} | "
            f"{median(floor, 'cpu_ms'):.2f} | {ratio:.2f}x |" if floor else
            f"| {name} | {median(app, 'cpu_ms'):.2f} | — | — |")
        database = f"{median(app, 'db_cpu_ms'):.2f}" if backend == "postgresql" else "—"
        lines[-1] += (f" {median(app, 'rps'):.0f} | {median(app, 'p50_ms'):.1f} | "
                      f"{median(app, 'p99_ms'):.1f} | {errors} | {database} |")
    scaling = data["scaling"]
    many = str(data["workers"])
    if not scaling["1"]:
        return lines
    gain = statistics.median(b["rps"] / a["rps"] for a, b in zip(scaling["1"], scaling[many], strict=True))
    lines += ["", f"`/api/articles?limit=20` with 1 worker: {median(scaling['1'], 'rps'):.0f} req/s "
              f"({median(scaling['1'], 'cpu_ms'):.2f} ms CPU/req); with {many}: "
              f"{median(scaling[many], 'rps'):.0f} req/s ({median(scaling[many], 'cpu_ms'):.2f} ms "
              f"CPU/req): **{gain:.2f}x** (median of the per-round ratios).", ""]
    if backend == "postgresql":
        app_ms, db_ms = median(scaling[many], "cpu_ms"), median(scaling[many], "db_cpu_ms")
        lines += [f"With {many} workers each request also cost PostgreSQL {db_ms:.2f} ms of CPU on "
                  f"the same {os.cpu_count()} cores: {app_ms + db_ms:.2f} ms in all, so these cores "
                  f"top out near {1000 * (os.cpu_count() or 1) / (app_ms + db_ms):.0f} req/s "
                  "before wrk takes its share.", ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write the markdown report here")
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    parser.add_argument("--only", help="comma-separated words: measure only targets whose name has one "
                        "(and skip the 1-worker comparison)")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="conduit-cost-") as tmp:
        for backend in backends:
            targets = tuple(t for t in TARGETS if not args.only
                            or any(word in t.name for word in args.only.split(",")))
            results[backend] = run_backend(backend, args.rounds, args.seconds, args.connections,
                                           args.workers, Path(tmp), targets, scale=not args.only)
    command = (f"python -m bench.cost --db {args.db} --rounds {args.rounds} --seconds {args.seconds:g} "
               f"--connections {args.connections} --workers {args.workers}")
    lines = ["## CPU per request: the app against the floor", "",
             f"`{command}` — wrk -c{args.connections}, {args.seconds:g} s a run, {args.rounds} "
             f"interleaved rounds, {args.workers} workers, production mode, 50 users and 500 "
             "articles. CPU is utime+stime of the Hypercorn master and workers from /proc.", ""]
    for backend, data in results.items():
        lines += report(backend, data)
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    errors = sum(r["errors"] for data in results.values() for by in data["rows"].values()
                 for rs in by.values() for r in rs)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
