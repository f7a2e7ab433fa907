"""The same verified scenario under Locust, a master and two workers on this machine, and under the
native generator: both verify every answer with the same checks, read back every write, and
agree with Locust's own count of requests."""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.commands.demo_data import seed
from loadtest.cli import main
from tests.support.servers import free_port

pytestmark = pytest.mark.once
ROOT = Path(__file__).resolve().parents[2]
LOCUST = [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtest" / "locustfile.py")]


def _locust_run(url: str, work: Path) -> tuple[int, dict[str, Any], dict[str, int], str]:
    port = free_port()
    counts, stats = work / "counts.json", work / "locust"
    master = subprocess.Popen(
        [*LOCUST, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
         "--headless", "--expect-workers", "2", "--expect-workers-max-wait", "60", "-u", "6",
         "-r", "6", "--run-time", "5s", "--host", url, "--conduit-scenario", "api-write",
         "--conduit-allow-writes", "--conduit-json", str(counts), "--csv", str(stats),
         "--only-summary"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    workers: list[subprocess.Popen[Any]] = [subprocess.Popen(
        [*LOCUST, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
         "--conduit-scenario", "api-write", "--conduit-allow-writes"], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT) for _ in range(2)]
    try:
        output, _ = master.communicate(timeout=180)
    finally:
        for process in [master, *workers]:
            if process.poll() is None:
                process.kill()
            process.wait()
    with (work / "locust_stats.csv").open() as table:
        rows = {row["Name"]: int(row["Request Count"]) for row in csv.DictReader(table)}
    return master.returncode, json.loads(counts.read_text()), rows, output


async def test_locust_master_and_two_workers_verify_what_the_native_generator_does(
        live_server: str, db: AsyncSession, tmp_path: Path) -> None:
    await seed(db, users=6, articles=30, comments=2, seed_value=3)
    code, counts, locust_rows, output = await asyncio.to_thread(_locust_run, live_server, tmp_path)
    assert code == 0, output[-3000:]
    assert counts["workers"] == 2
    assert counts["failed"] == 0 and counts["sample_errors"] == []
    # Every request Locust counted went through the verifier, and nothing else did.
    assert counts["requests"] == locust_rows["Aggregated"] > 50
    assert {name: n for name, n in locust_rows.items() if name != "Aggregated"} == counts["endpoints"]
    assert counts["endpoints"]["read-back"] > 0  # each worker read its writes back: none lost

    out = tmp_path / "native.json"
    native = await asyncio.to_thread(main, [
        "--url", live_server, "--scenario", "api-write", "--allow-writes", "--requests", "200",
        "--concurrency", "6", "--json", str(out)])
    report = json.loads(out.read_text())
    assert native == 0 and report["error_rate"] == 0 and report["sample_errors"] == []
    # The same steps, verified alike (only the stand-in read while no account is ready may
    # differ).
    assert set(report["endpoints"]) ^ set(counts["endpoints"]) <= {"GET /api/tags"}
