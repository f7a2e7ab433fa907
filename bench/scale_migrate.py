"""Migrating a big database: ``db upgrade`` from 0005 (no counters) to head on N articles, while
the old code's reads and writes go on.

It fills a database at revision 0005 with ``app.commands.bulk_data`` (the base tables only, as the code
of 0005 wrote them), then runs ``quart --app app db upgrade`` and meanwhile, every 50 ms, what the
old code does on each request: the newest 20 articles, and a favorite written and taken back.
Reported: how long the upgrade took, the slowest and the median probe, any probe that failed, and
then ``quart --app app db recount`` (its time, and the drift the old code's writes left).

    python -m bench.scale_migrate --db postgresql --size 1000000 --keep

With ``--keep`` the database stays, named as ``bench.scale`` names it, so that run reuses it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from app.commands.bulk_data import Shape, seed_scale
from bench.scale import RESULTS, scale_database

BIN = Path(sys.executable).parent
READ = "SELECT id, slug FROM articles ORDER BY created_at DESC, id DESC LIMIT 20"


async def _quart(url: str, *args: str) -> tuple[float, str]:
    env = {**os.environ, "CONDUIT_ENV": "development", "CONDUIT_DATABASE_URL": url}
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(str(BIN / "quart"), "--app", "app", *args, env=env,
                                                stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"quart {' '.join(args)} failed:\n{out.decode()[-3000:]}")
    return time.monotonic() - started, out.decode()


async def _probe_once(conn: AsyncConnection, user: int, article: int) -> None:
    async with conn.begin():
        await conn.execute(text(READ))
    async with conn.begin():
        await conn.execute(text("INSERT INTO favorites (user_id, article_id, created_at) VALUES "
                                "(:u, :a, CURRENT_TIMESTAMP)"), {"u": user, "a": article})
    async with conn.begin():
        await conn.execute(text("DELETE FROM favorites WHERE user_id = :u AND article_id = :a"),
                           {"u": user, "a": article})


async def _probe(url: str, stop: asyncio.Event, shape: Shape) -> dict[str, Any]:
    """The old code's traffic: how long each request's statements took, and which failed. Its
    user signed up before the upgrade and favorites nothing else, so no favorite collides."""
    engine = create_async_engine(url, connect_args={"timeout": 60} if "sqlite" in url else {})
    times: list[float] = []
    failures: list[str] = []
    try:
        async with engine.connect() as conn:
            if "sqlite" in url:
                await conn.exec_driver_sql("PRAGMA busy_timeout = 60000")
                await conn.commit()
            async with conn.begin():
                user = (await conn.execute(text(
                    "INSERT INTO users (username, email, password_hash, created_at, updated_at) "
                    "VALUES ('probe', 'probe@scale.test', 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) "
                    "RETURNING id"))).scalar_one()
            number = 0
            while not stop.is_set():
                number += 1
                started = time.monotonic()
                try:
                    await _probe_once(conn, user, 1 + number % shape.articles)
                except Exception as error:  # a failed probe is a finding
                    failures.append(f"{type(error).__name__}: {str(error)[:200]}")
                times.append((time.monotonic() - started) * 1000)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.05)
    finally:
        await engine.dispose()
    return {"probes": len(times), "median_ms": statistics.median(times) if times else 0.0,
            "max_ms": max(times, default=0.0), "failures": failures}


async def migrate(url: str, size: int) -> list[str]:
    shape = Shape.for_articles(size)
    await _quart(url, "db", "upgrade", "0005")
    engine = create_async_engine(url)
    started = time.monotonic()
    try:
        await seed_scale(engine, shape, derive=False, progress=print)
    finally:
        await engine.dispose()
    seeded = time.monotonic() - started
    stop = asyncio.Event()
    probe = asyncio.create_task(_probe(url, stop, shape))
    upgraded, log = await _quart(url, "db", "upgrade")
    stop.set()
    probed = await probe
    recounted, recount_log = await _quart(url, "db", "recount")
    drift = recount_log.strip().splitlines()[-1]
    return [
        f"- filled at revision 0005 ({size:,} articles, {shape.users:,} users): {seeded:.0f} s",
        f"- `quart --app app db upgrade` (0005 to head: add the counters, backfill, build the "
        f"indexes): **{upgraded:.0f} s**",
        f"- meanwhile, old-code requests (the newest 20, a favorite written and taken back) every "
        f"50 ms: {probed['probes']} requests, median {probed['median_ms']:.1f} ms, slowest "
        f"**{probed['max_ms']:.0f} ms**, failed: {len(probed['failures'])}"
        + (f" ({probed['failures'][0]})" if probed["failures"] else ""),
        f"- then `quart --app app db recount`: {recounted:.0f} s, `{drift}`",
        "", "The upgrade's log:", "", "```", *log.strip().splitlines()[-40:], "```",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database for bench.scale")
    args = parser.parse_args()
    with scale_database(args.db, args.size, args.keep, fill=False) as url:
        lines = asyncio.run(migrate(url, args.size))
    report = [f"`python -m bench.scale_migrate --db {args.db} --size {args.size}`", "", *lines, ""]
    print("\n".join(report))
    path = RESULTS / f"{time.strftime('%Y-%m-%d')}-scale-migrate-{args.db}.md"
    path.write_text("\n".join(report))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
