"""What a request costs as the data grows: each read and write against 10k articles and 1M.

For each size it fills a database with ``app.commands.bulk_data`` (the shapes of issue 20: a tag on a fifth
of all articles, an author of 5% of them, a reader following 5,000, an article with 5,000 comments)
and starts the app on it (``conduit-serve``, production, one worker). Both servers run at once and
every request goes to each in turn (the order flips every round), one at a time, so a busy moment
of this machine falls on both sizes alike. Reported, per request and size: the median and p99
wall time, the server's CPU ms per request (utime + stime from /proc around each request), the
ratio of the largest size to the smallest, and any answer that is not 2xx. (/proc counts CPU in
10 ms ticks: the CPU figure is the mean over all rounds, which the ticks average out in.)
The report and a plot of cost against size go to ``bench/results/``.

    python -m bench.scale --db postgresql --sizes 10000 1000000 --rounds 30 --keep

``--keep`` leaves the filled databases (PostgreSQL ``conduit_scale_<n>``, SQLite
``instance/scale-<n>.db``) for the next run, which reuses them: 1M articles take minutes to fill.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from tests.support.servers import (
    NO_ADMISSION_LIMIT,
    ROOT,
    Server,
    create_pg_database,
    drop_pg_database,
    free_port,
    pg_url,
    running_server,
)

BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
PASSWORD = "conduit-demo"


@dataclass
class Client:
    """One size's server, signed in as "reader" (follows 5,000) for the feed and the writes."""

    server: Server
    token: str = ""
    slug: str = ""  # an article of the reader's, written and deleted by the write requests
    half_cursor: str = ""  # where the page at half depth ends

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server.url + path, data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            raw, status = error.read(), error.code
        kind = "json" if raw[:1] in (b"{", b"[") else "text"
        return status, json.loads(raw) if kind == "json" else raw


@dataclass(frozen=True)
class Target:
    name: str
    method: str
    path: Callable[[Client, int], str]  # from the client and the size (its article count)
    body: dict[str, Any] | None = None


TARGETS = (
    Target("GET / (site home)", "GET", lambda c, n: "/"),
    Target("GET /api/articles?limit=20", "GET", lambda c, n: "/api/articles?limit=20"),
    Target("GET /api/articles?offset=<half>", "GET",
           lambda c, n: f"/api/articles?limit=20&offset={n // 2}"),
    Target("GET /api/articles?before=<cursor at half>", "GET",
           lambda c, n: f"/api/articles?limit=20&before={c.half_cursor}"),
    Target("GET /api/articles?tag=<a fifth of all>", "GET", lambda c, n: "/api/articles?tag=popular"),
    Target("GET /api/articles?author=<5% of all>", "GET", lambda c, n: "/api/articles?author=prolific"),
    Target("GET /api/articles?favorited=reader", "GET", lambda c, n: "/api/articles?favorited=reader"),
    Target("GET /api/articles/feed (follows 5,000)", "GET", lambda c, n: "/api/articles/feed"),
    Target("GET /api/tags", "GET", lambda c, n: "/api/tags"),
    Target("GET /?tag=popular (page)", "GET", lambda c, n: "/?tag=popular"),
    Target("GET /profile/prolific (page)", "GET", lambda c, n: "/profile/prolific"),
    Target("GET /api/articles/<5,000 comments>/comments", "GET",
           lambda c, n: "/api/articles/hot-article/comments"),
    Target("GET /article/<5,000 comments> (page)", "GET", lambda c, n: "/article/hot-article"),
    Target("POST /api/articles (3 tags, one popular)", "POST", lambda c, n: "/api/articles",
           {"article": {"title": "Measured", "description": "d", "body": "b",
                        "tagList": ["popular", "topic-2", "measured"]}}),
    Target("POST favorite <5,000 fans>", "POST", lambda c, n: "/api/articles/hot-article/favorite"),
    Target("DELETE favorite <5,000 fans>", "DELETE", lambda c, n: "/api/articles/hot-article/favorite"),
    Target("POST comment on <5,000 comments>", "POST",
           lambda c, n: "/api/articles/hot-article/comments", {"comment": {"body": "measured"}}),
    Target("DELETE /api/articles/<slug>", "DELETE", lambda c, n: f"/api/articles/{c.slug}"),
    Target("POST follow <author of 5%>", "POST", lambda c, n: "/api/profiles/prolific/follow"),
    Target("DELETE follow <author of 5%>", "DELETE", lambda c, n: "/api/profiles/prolific/follow"),
)


@dataclass
class Sample:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)


def _database_count(url: str) -> int | None:
    """The articles a kept database holds (None: not there, or not filled)."""
    async def count() -> int | None:
        dsn = url.replace("postgresql+asyncpg", "postgresql")
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
        except asyncpg.InvalidCatalogNameError:
            return None
        try:
            value = await conn.fetchval("SELECT value FROM site_counters WHERE name = 'articles'")
            return None if value is None else int(value)
        except asyncpg.PostgresError:
            return None
        finally:
            await conn.close()

    return asyncio.run(count())


@contextmanager
def scale_database(backend: str, size: int, keep: bool, fill: bool = True) -> Iterator[str]:
    """A database filled with ``size`` articles: a kept one when there is one, else a new one
    (``fill=False``: always a new one, left empty)."""
    env = {**os.environ, "CONDUIT_ENV": "development"}
    if backend == "sqlite":
        path = ROOT / "instance" / f"scale-{size}.db"
        url = f"sqlite+aiosqlite:///{path}"
        fresh = not fill or not path.exists()
        path.parent.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm") if fresh else ():
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        name = f"conduit_scale_{size}"
        url = pg_url(name)
        fresh = not fill or _database_count(url) is None
        if fresh:
            drop_pg_database(name)
            create_pg_database(name)
    try:
        if fresh and fill:
            started = time.monotonic()
            quart = [str(BIN / "quart"), "--app", "app"]
            env["CONDUIT_DATABASE_URL"] = url
            subprocess.run([*quart, "db", "upgrade"], cwd=ROOT, env=env, check=True)
            subprocess.run([*quart, "seed", "--scale", str(size)], cwd=ROOT, env=env, check=True)
            print(f"{backend} {size}: filled in {time.monotonic() - started:.0f} s", flush=True)
        yield url
    finally:
        if not keep:
            if backend == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{ROOT / 'instance' / f'scale-{size}.db'}{suffix}").unlink(missing_ok=True)
            else:
                drop_pg_database(f"conduit_scale_{size}")


def _start(stack: ExitStack, url: str, log: Path) -> Client:
    port = free_port()
    env = {**os.environ, **NO_ADMISSION_LIMIT,
            "CONDUIT_ENV": "production", "CONDUIT_DATABASE_URL": url,
           "CONDUIT_SECRET_KEY": secrets.token_urlsafe(48), "CONDUIT_LOG_LEVEL": "WARNING",
           "CONDUIT_RATE_LIMITS": "false"}
    command = [str(BIN / "conduit-serve"), "--bind", f"127.0.0.1:{port}", "--workers", "1",
               "--access-logfile", "/dev/null"]
    server = stack.enter_context(running_server(command, probe=f"http://127.0.0.1:{port}/healthz",
                                                env=env, log=log, timeout=120))
    client = Client(server)
    status, answer = client.call("POST", "/api/users/login",
                                 {"user": {"email": "reader@scale.test", "password": PASSWORD}})
    assert status == 200, answer
    client.token = answer["user"]["token"]
    return client


def _prepare(client: Client, size: int) -> None:
    """The cursor of the page at half depth (its link says where the next one starts)."""
    request = urllib.request.Request(f"{client.server.url}/api/articles?limit=20&offset={size // 2}")
    with urllib.request.urlopen(request, timeout=120) as response:
        link = response.headers.get("Link", "")
    client.half_cursor = link.split("before=", 1)[1].split(">", 1)[0].split("&", 1)[0]


def _one(client: Client, target: Target, size: int) -> tuple[float, float, int]:
    path = target.path(client, size)
    before_cpu, started = client.server.cpu_seconds(), time.perf_counter()
    status, answer = client.call(target.method, path, target.body)
    wall = (time.perf_counter() - started) * 1000
    cpu = (client.server.cpu_seconds() - before_cpu) * 1000
    if target.name.startswith("POST /api/articles") and status == 201:
        client.slug = answer["article"]["slug"]
    return wall, cpu, status


def run(backend: str, sizes: list[int], rounds: int, keep: bool, work: Path) -> dict[str, Any]:
    results: dict[str, dict[int, Sample]] = {t.name: {n: Sample() for n in sizes} for t in TARGETS}
    with ExitStack() as stack:
        clients = {}
        for size in sizes:
            url = stack.enter_context(scale_database(backend, size, keep))
            clients[size] = _start(stack, url, work / f"{backend}-{size}.log")
            _prepare(clients[size], size)
        for round_number in range(rounds + 1):  # round 0 warms the caches and is not counted
            order = sizes if round_number % 2 else sizes[::-1]
            for target in TARGETS:
                for size in order:
                    wall, cpu, status = _one(clients[size], target, size)
                    if round_number == 0:
                        continue
                    sample = results[target.name][size]
                    sample.wall_ms.append(wall)
                    sample.cpu_ms.append(cpu)
                    if not 200 <= status < 300:
                        sample.failures.append(status)
            print(f"{backend} round {round_number}/{rounds} done", flush=True)
    return {"backend": backend, "sizes": sizes, "rounds": rounds,
            "results": {name: {str(n): vars(s) for n, s in by.items()} for name, by in results.items()}}


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def report(data: dict[str, Any]) -> list[str]:
    sizes = [str(n) for n in data["sizes"]]
    small, large = sizes[0], sizes[-1]
    head = " | ".join(f"{int(n):,}: median / p99 ms, CPU ms" for n in sizes)
    lines = [f"### {data['backend']}, {data['rounds']} rounds", "",
             f"| request | {head} | median ratio | p99 ratio | not 2xx |",
             "|---|" + "---:|" * (len(sizes) + 3)]
    for name, by in data["results"].items():
        cells = []
        for n in sizes:
            s = by[n]
            cells.append(f"{statistics.median(s['wall_ms']):.1f} / {_p99(s['wall_ms']):.1f}, "
                         f"{statistics.fmean(s['cpu_ms']):.1f}")
        ratio = statistics.median(by[large]["wall_ms"]) / statistics.median(by[small]["wall_ms"])
        p99 = _p99(by[large]["wall_ms"]) / _p99(by[small]["wall_ms"])
        failures = sum(len(by[n]["failures"]) for n in sizes)
        lines.append(f"| {name} | {' | '.join(cells)} | {ratio:.2f}x | {p99:.2f}x | {failures} |")
    return lines


def plot(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = data["sizes"]
    fig, axis = plt.subplots(figsize=(10, 5.5))
    for name, by in data["results"].items():
        axis.plot(sizes, [statistics.median(by[str(n)]["wall_ms"]) for n in sizes], marker="o",
                  label=name)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("articles in the database")
    axis.set_ylabel("median ms per request (one at a time)")
    axis.set_title(f"Cost against size, {data['backend']}: flat lines are O(page)")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the filled databases for next time")
    args = parser.parse_args()
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"conduit-scale-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    data = run(args.db, sorted(args.sizes), args.rounds, args.keep, work)
    lines = report(data)
    print("\n".join(lines))
    stem = RESULTS / f"{time.strftime('%Y-%m-%d')}-scale-{args.db}"
    stem.with_suffix(".json").write_text(json.dumps(data))
    stem.with_suffix(".md").write_text("\n".join([f"`python -m bench.scale --db {args.db} --sizes "
                                                  f"{' '.join(map(str, args.sizes))} --rounds "
                                                  f"{args.rounds}`", "", *lines, ""]))
    plot(data, stem.with_suffix(".png"))
    print(f"wrote {stem}.md, .json and .png")


if __name__ == "__main__":
    main()
