"""The load generator: its arithmetic, its options, and small bounded runs against a live server."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.commands.demo_data import seed
from loadtest.checks import signed_in
from loadtest.cli import main
from loadtest.server_side import quantile, view
from loadtest.stats import Recorder, percentile, report_dict, summarise

pytestmark = pytest.mark.once  # the load generator: backend-independent

ROOT = Path(__file__).resolve().parents[2]


def test_percentiles_use_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 90) == 90
    assert percentile(values, 99) == 99
    assert percentile(values, 99.9) == 100
    assert percentile(values, 100) == 100
    assert percentile([7.0], 50) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 75) == 3.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(values, 0)


def test_the_servers_quantiles_are_prometheus_histogram_quantile() -> None:
    buckets = {0.1: 50.0, 0.2: 100.0, math.inf: 100.0}  # cumulative, as /metrics has them
    assert quantile(0.5, buckets) == pytest.approx(0.1)
    assert quantile(0.99, buckets) == pytest.approx(0.198)  # 0.1 + 0.1 x (99 - 50) / 50
    assert quantile(0.99, {0.1: 0.0, 0.2: 98.0, math.inf: 100.0}) == 0.2  # in +Inf: the top bound
    assert math.isnan(quantile(0.99, {0.1: 0.0, math.inf: 0.0}))
    before = "conduit_http_requests_total{route=\"/a\",method=\"GET\",status=\"2xx\"} 10\n"
    after = ("conduit_http_requests_total{route=\"/a\",method=\"GET\",status=\"2xx\"} 30\n"
             "conduit_http_requests_total{route=\"/readyz\",method=\"GET\",status=\"2xx\"} 99\n"
             "conduit_worker_cpu_seconds_total 0.04\n")
    figures = view(before, after)
    assert figures is not None and figures["requests"] == 20  # the probes are not the run's
    assert figures["cpu_ms_per_request"] == pytest.approx(2.0)
    assert view(None, after) is None


def test_summary_is_in_milliseconds_from_unsorted_seconds() -> None:
    latencies = [0.010, 0.001, 0.100, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008]
    assert summarise(latencies) == pytest.approx(
        {"p50": 5.0, "p90": 10.0, "p99": 100.0, "p99.9": 100.0, "max": 100.0})


def test_recorder_counts_successes_errors_and_merges() -> None:
    one, two = Recorder(), Recorder()
    one.ok("a", 200, 0.1)
    one.error("a", "status", "answered 500", 500, 0.2)
    one.error("b", "timeout", "no answer")
    two.ok("b", 200, 0.3)
    two.error("b", "connection", "refused")
    one.merge(two)
    assert one.requests == 5
    assert dict(one.errors) == {"status": 1, "timeout": 1, "connection": 1}
    assert dict(one.statuses) == {200: 2, 500: 1}
    report = report_dict(one, target="t", scenario="s", wall_seconds=2.0, concurrency=1,
                         client_cpu=0.1)
    assert report["requests"] == 5 and report["succeeded"] == 2
    assert report["error_rate"] == pytest.approx(0.6)
    assert report["throughput_rps"] == pytest.approx(2.5)


@pytest.mark.parametrize("argv", [
    ["--concurrency", "0"],
    ["--duration", "-1"],
    ["--duration", "5", "--requests", "10"],
    ["--rate", "0"],
    ["--max-error-rate", "2"],
    ["--procs", "4", "--concurrency", "2"],
    ["--url", "ftp://127.0.0.1/"],
    ["--url", "http://10.1.2.3:8000"],
    ["--scenario", "nope"],
    ["--requests", "many"],
])
def test_bad_options_exit_2_with_a_message(argv: list[str], capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    assert main(argv) == 2
    assert "error:" in capsys.readouterr().err


def test_a_target_that_does_not_answer_is_reported_not_a_traceback() -> None:
    result = subprocess.run([sys.executable, "-m", "loadtest", "--url",
                             "http://127.0.0.1:9", "--requests", "5", "--allow-writes"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "does not answer" in result.stderr
    assert "Traceback" not in result.stderr


async def _run(tmp_path: Path, *argv: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "report.json"
    code = await asyncio.to_thread(main, [*argv, "--json", str(out)])
    return code, json.loads(out.read_text()) if out.exists() else {}


async def test_contexts_counts_add_up_and_every_answer_is_verified(live_server: str,
                                                                  tmp_path: Path) -> None:
    code, report = await _run(tmp_path, "--url", live_server, "--scenario", "contexts",
                              "--requests", "300", "--concurrency", "30")
    assert code == 0
    assert report["requests"] == report["succeeded"] == 300
    assert report["statuses"] == {"200": 300}
    assert report["leaks"] == 0
    assert sum(e["requests"] for e in report["endpoints"].values()) == 300
    assert report["latency_ms"]["p50"] <= report["latency_ms"]["p99"] <= report["latency_ms"]["max"]
    server = report["server"]  # the server's own /metrics, read before and after the run
    assert server["requests"] >= 300 and server["errors_5xx"] == 0 and server["refused"] == 0
    assert 0 < server["latency_ms"]["p50"] <= server["latency_ms"]["p99"]
    assert server["cpu_ms_per_request"] > 0


async def test_threadlocal_leaks_are_counted_and_set_the_exit_status(live_server: str,
                                                                    tmp_path: Path) -> None:
    code, report = await _run(tmp_path, "--url", live_server, "--scenario", "threadlocal",
                              "--requests", "200", "--concurrency", "40")
    assert code == 1  # default --max-error-rate 0
    assert report["leaks"] > 0
    assert report["errors"]["verification"] == report["leaks"]
    tolerant, _ = await _run(tmp_path, "--url", live_server, "--scenario", "threadlocal",
                             "--requests", "50", "--concurrency", "10", "--max-error-rate", "1")
    assert tolerant == 0


async def test_open_loop_and_processes_send_exactly_the_budget(live_server: str,
                                                              tmp_path: Path) -> None:
    code, report = await _run(tmp_path, "--url", live_server, "--scenario", "contexts",
                              "--requests", "60", "--rate", "200", "--concurrency", "8")
    assert code == 0 and report["requests"] == 60 and report["mode"] == "open"
    code, report = await _run(tmp_path, "--url", live_server, "--scenario", "contexts",
                              "--requests", "101", "--concurrency", "10", "--procs", "2")
    assert code == 0 and report["requests"] == 101 and report["processes"] == 2


@pytest.mark.parametrize("scenario", ["api-read", "browse", "api-write", "mixed"])
async def test_data_scenarios_verify_and_lose_nothing(live_server: str, db: AsyncSession,
                                                      tmp_path: Path, scenario: str) -> None:
    await seed(db, users=6, articles=30, comments=2, seed_value=3)
    code, report = await _run(tmp_path, "--url", live_server, "--scenario", scenario,
                              "--requests", "150", "--concurrency", "12", "--allow-writes")
    assert report["sample_errors"] == []
    assert code == 0
    assert report["requests"] >= 150  # api-write adds its read-back requests
    if scenario in ("api-write", "mixed"):
        assert "read-back" in report["endpoints"] or scenario == "mixed"
    if scenario == "api-write":  # every account signs in after registering, and is verified
        signups, logins = report["endpoints"]["POST /api/users"], \
            report["endpoints"]["POST /api/users/login"]
        assert 1 <= logins["requests"] <= signups["requests"]
        assert logins["errors"] == signups["errors"] == 0


def test_the_sign_in_check_wants_the_same_user_and_a_token() -> None:
    check = signed_in("ann")
    assert check({"user": {"username": "ann", "token": "t"}}) is None
    assert check({"user": {"username": "bob", "token": "t"}}) == "signed in as 'bob', expected 'ann'"
    assert check({"user": {"username": "ann", "token": ""}}) is not None
    assert check({"errors": {"credentials": ["invalid"]}}) is not None


async def test_compare_prints_both_targets(live_server: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    second = live_server.replace("127.0.0.1", "localhost")
    code, report = await _run(tmp_path, "--url", live_server, "--scenario", "contexts",
                              "--requests", "40", "--concurrency", "8", "--compare", second)
    assert code == 0
    assert report["first"]["requests"] == report["second"]["requests"] == 40
    out = capsys.readouterr().out
    assert f"A = {live_server}" in out and f"B = {second}" in out  # which column is which
    assert "B / A" in out and "…" not in out


def test_without_its_extra_the_generator_says_what_to_install() -> None:
    # The server's install has no aiohttp or rich (pyproject's loadtest extra): one clear line.
    script = "import sys; sys.modules['aiohttp'] = None; import loadtest"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == ("conduit-loadtest needs aiohttp, from the loadtest extra: "
                                   "pip install 'quart-conduit[loadtest]' (make's dev install has it)")
