"""Smoke test of the benchmark harness: one tiny concurrency level for a second per target."""

from __future__ import annotations

import functools
import http.server
import importlib
import json
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.once  # the benchmark harness: backend-independent

ROOT = Path(__file__).resolve().parents[2]


def _harness() -> ModuleType:
    return importlib.import_module("bench.run")


def test_the_harness_writes_a_table_and_a_plot(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bench.run", "--levels", "2", "--seconds", "1",
                             "--cost-rounds", "0", "--live-subscribers", "5", "--live-writes", "10",
                            "--live-db", "sqlite", "--out", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (live,) = tmp_path.glob("*-live.md")
    (table,) = set(tmp_path.glob("*.md")) - {live}
    (png,) = tmp_path.glob("*.png")
    text = table.read_text()
    assert "| async echo (Hypercorn) | 2 |" in text
    assert "| WSGI echo (gunicorn gthread x8) | 2 |" in text
    assert "wrk -t" in text and "python -m loadtest" in text
    assert "--timeout 1s" in text  # as long as the run: no answer left out of the percentiles
    assert "wrk counts only completed requests" in text and "run failed" not in text
    assert png.read_bytes().startswith(b"\x89PNG")
    rows = [line for line in text.splitlines() if line.startswith("| async echo")]
    assert float(rows[0].split("|")[4]) > 0  # requests per second were measured
    live_rows = [line.split("|") for line in live.read_text().splitlines()
                 if line.startswith("| sqlite")]
    assert [cells[2].strip() for cells in live_rows] == ["5"]
    assert live_rows[0][5].strip() == "50 of 50" and live_rows[0][-2].strip() == "passed"


def test_the_cost_harness_measures_the_app_against_the_floor(tmp_path: Path) -> None:
    """CPU per request from /proc for both servers, on the same seeded database, every answer 200."""
    out = tmp_path / "cost.md"
    result = subprocess.run([sys.executable, "-m", "bench.cost", "--db", "sqlite", "--rounds", "2",
                             "--seconds", "1", "--only", "healthz,tags", "--out", str(out),
                             "--json", str(tmp_path / "cost.json")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split("|")[1].strip(): line.split("|") for line in out.read_text().splitlines()
            if line.startswith("| GET ")}
    assert set(rows) == {"GET /healthz", "GET /api/tags"}
    for cells in rows.values():
        app_ms, floor_ms, ratio = float(cells[2]), float(cells[3]), float(cells[4].strip(" x"))
        assert app_ms > 0 and floor_ms > 0 and ratio > 0
        assert int(cells[8]) == 0  # errors: every answer was a 2xx
    figures = json.loads((tmp_path / "cost.json").read_text())["sqlite"]["rows"]
    assert [len(figures["GET /api/tags"][server]) for server in ("app", "floor")] == [2, 2]


def test_the_metrics_cost_is_measured_with_and_without_them() -> None:
    result = subprocess.run([sys.executable, "-m", "bench.observe_cost", "--rounds", "1",
                             "--requests", "300", "--checkouts", "30"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr  # 1: nothing reached the multiprocess files
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines()
            if line.startswith("| a ")]
    assert [row[0].strip() for row in rows] == ["a request through Observe",
                                                "a pooled connection out and in"]
    for _what, on, off, _cost in rows:
        assert float(on) > 0 and float(off) > 0


def test_a_failed_generator_run_is_reported_not_left_empty(tmp_path: Path) -> None:
    report = _harness().loadgen("http://127.0.0.1:9", "contexts", 1, 1, tmp_path / "r.json")
    assert report["error"] == "exit status 1, no JSON report"
    assert "does not answer" in report["stderr"]
    assert report["command"].startswith("python -m loadtest")


def test_a_run_whose_answers_fail_verification_is_reported_as_failed(tmp_path: Path) -> None:
    # A server that answers, but 404 to everything: the generator writes its report and exits 1.
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        report = _harness().loadgen(url, "contexts", 2, 1, tmp_path / "r.json")
    finally:
        server.shutdown()
    assert report["requests"] > 0 and report["succeeded"] == 0
    assert report["error"] == f"{report['requests']} of {report['requests']} answers were errors " \
                              "or failed verification"
