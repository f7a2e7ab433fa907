"""Smoke test of the benchmark harness: one tiny concurrency level for a second per target."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_harness_writes_a_table_and_a_plot(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "bench/run.py", "--levels", "2", "--seconds", "1",
                             "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (table,) = tmp_path.glob("*.md")
    (png,) = tmp_path.glob("*.png")
    text = table.read_text()
    assert "| async echo (Hypercorn) | 2 |" in text
    assert "| WSGI echo (gunicorn gthread x8) | 2 |" in text
    assert "wrk -t" in text and "python -m app.loadtest" in text
    assert "--timeout 1s" in text  # half of --seconds 1, but never below 1 s
    assert "wrk counts only completed requests" in text and "run failed" not in text
    assert png.read_bytes().startswith(b"\x89PNG")
    rows = [line for line in text.splitlines() if line.startswith("| async echo")]
    assert float(rows[0].split("|")[3]) > 0  # requests per second were measured


def test_wrk_times_out_at_half_the_run_and_never_below_a_second() -> None:
    harness = _harness()
    assert harness.wrk_timeout(10) == 5
    assert harness.wrk_timeout(1) == harness.wrk_timeout(2) == 1


def test_a_failed_generator_run_is_reported_not_left_empty(tmp_path: Path) -> None:
    report = _harness().loadgen("http://127.0.0.1:9", "contexts", 1, 1, tmp_path / "r.json")
    assert report["error"] == "exit status 1, no JSON report"
    assert "does not answer" in report["stderr"]
    assert report["command"].startswith("python -m app.loadtest")
