"""Smoke test of the benchmark harness: one tiny concurrency level for a second per target."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
    assert png.read_bytes().startswith(b"\x89PNG")
    rows = [line for line in text.splitlines() if line.startswith("| async echo")]
    assert float(rows[0].split("|")[3]) > 0  # requests per second were measured
