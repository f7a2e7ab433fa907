"""The load generator's shapes of load, thresholds, histogram and HTML report: the arithmetic
directly, then bounded runs against a live server (counts from the schedule, never the clock)."""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
from pathlib import Path
from typing import Any

import pytest

from loadtest.cli import main
from loadtest.histogram import SUB, Histogram
from loadtest.html_report import render
from loadtest.options import parser
from loadtest.stages import Profile, StageError, parse_seconds
from loadtest.thresholds import ThresholdError, judge, parse_threshold

pytestmark = pytest.mark.once


def test_the_histogram_keeps_every_value_within_its_relative_error() -> None:
    rng = random.Random(7)
    values = sorted(rng.lognormvariate(-4, 1.5) for _ in range(20_000))  # ~ms to seconds
    histogram = Histogram()
    for value in values:
        histogram.record(value)
    for p in (1, 50, 90, 99, 99.9):
        exact = values[max(1, math.ceil(p / 100 * len(values))) - 1] * 1000
        assert histogram.percentile_ms(p) == pytest.approx(exact, rel=1 / SUB, abs=0.001)
    assert histogram.percentile_ms(100) == values[-1] * 1000  # the maximum is exact
    halves = Histogram(), Histogram()
    for i, value in enumerate(values):
        halves[i % 2].record(value)
    halves[0].merge(halves[1])
    assert halves[0].counts == histogram.counts and halves[0].count == 20_000
    assert math.isnan(Histogram().percentile_ms(50))


def test_stages_ramp_linearly_from_the_one_before() -> None:
    profile = Profile.parse(["10s:100/s", "0s:400/s", "20s:400/s", "10s:0/s"])
    assert profile.open_loop and profile.total == 40 and profile.peak == 400
    assert [profile.at(t) for t in (0, 5, 10, 15, 30, 35, 40, 99)] == [0, 50, 400, 400, 400, 200, 0, 0]
    users = Profile.parse(["1m:50", "30s:50"])
    assert not users.open_loop and users.total == 90 and users.at(30) == 25
    assert [parse_seconds(t) for t in ("90s", "1.5m", "2m30s", "7")] == [90, 90, 150, 7]
    assert Profile.held(20, True, 5).at(4.9) == 20
    assert Profile.parse(["10s:100/s"]).share(4).at(10) == 25


@pytest.mark.parametrize("texts", [["10s"], ["ten:5"], ["10s:lots"], ["10s:5", "10s:5/s"],
                                   ["0s:5"], ["10s:2.5"], ["99h:5"]])
def test_a_bad_stage_says_what_a_stage_looks_like(texts: list[str]) -> None:
    with pytest.raises(StageError):
        Profile.parse(texts)


def test_thresholds_parse_units_and_judge_a_report() -> None:
    report: dict[str, Any] = {
        "latency_ms": {"p50": 5.0, "p90": 40.0, "p99": 240.0, "p99.9": 900.0, "max": 1200.0},
        "error_rate": 0.002, "requests": 1000, "refused": {"count": 30},
        "throughput_rps": 150.0, "goodput_rps": 148.0,
        "endpoints": {"GET /api/tags": {"requests": 100, "errors": 0, "latency_ms": {
            "p50": 2.0, "p90": 3.0, "p99": 120.0, "p99.9": 130.0, "max": 130.0}}}}
    texts = ["p99<250ms", "p(99)<0.2s", "errors<0.1%", "errors<=0.005", "refused<5%",
             "goodput>100", "rps>=200", "[GET /api/tags] p99<100ms", "[GET /api/tags] errors<1%",
             "[GET /nowhere] p99<1s"]
    rows = judge([parse_threshold(text) for text in texts], report)
    assert [row["passed"] for row in rows] == [True, False, False, True, True, True, False, False,
                                               True, False]
    assert rows[2]["observed"] == 0.002 and rows[9]["observed"] is None
    assert parse_threshold("p99 < 1.5s").value == 1500


@pytest.mark.parametrize("text", ["p99", "p98<1s", "errors<5ms", "p99<5%", "rps<5%",
                                  "[GET /] rps>5", "p99<<1s"])
def test_a_bad_threshold_is_refused(text: str) -> None:
    with pytest.raises(ThresholdError):
        parse_threshold(text)


def test_help_shows_every_default() -> None:
    helps = {action.dest: action.help or "" for action in parser()._actions
             if action.option_strings and action.dest != "help"}
    flags = {"allow_remote", "allow_writes"}
    missing = [dest for dest, text in helps.items() if dest not in flags and "default" not in text]
    assert missing == []


@pytest.mark.parametrize(("argv", "says"), [
    (["--scenario", "mixed"], "--allow-writes"),
    (["--scenario", "api-write"], "throwaway server"),
    (["--stage", "5s:10", "--stage", "5s:10/s"], "not both"),
    (["--stage", "5s:10/s", "--rate", "5"], "not with --duration or --rate"),
    (["--stage", "5s:10", "--concurrency", "5"], "not with --concurrency"),
    (["--threshold", "p99<fast"], "must look like"),
])
def test_shapes_and_writes_are_checked(argv: list[str], says: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scenario", "api-read", *argv]) == 2
    assert says in capsys.readouterr().err


async def _run(tmp_path: Path, *argv: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "report.json"
    out.unlink(missing_ok=True)
    code = await asyncio.to_thread(main, [*argv, "--json", str(out)])
    return code, json.loads(out.read_text()) if out.exists() else {}


async def test_an_open_loop_ramp_sends_what_its_schedule_says(live_server: str,
                                                             tmp_path: Path) -> None:
    """0 → 40/s over 1 s (20 arrivals), then 40/s for 1 s (40): 60 in all, whatever the clock."""
    code, report = await _run(tmp_path, "--url", live_server, "--scenario", "contexts",
                              "--stage", "1s:40/s", "--stage", "1s:40/s", "--max-delay-ms", "0")
    assert code == 0
    assert 59 <= report["requests"] <= 61
    assert report["mode"] == "open" and report["stages"] == ["1s to 40/s", "1s to 40/s"]
    assert sum(second["ok"] for second in report["timeline"]) == report["succeeded"]


async def test_a_closed_loop_ramp_starts_and_stops_users(live_server: str, tmp_path: Path) -> None:
    code, report = await _run(tmp_path, "--url", live_server, "--scenario", "contexts",
                              "--stage", "1s:6", "--stage", "1s:0", "--max-delay-ms", "20")
    assert code == 0 and report["mode"] == "closed" and report["requests"] > 0
    assert report["requests"] == report["succeeded"]


async def test_thresholds_set_the_exit_status(live_server: str, tmp_path: Path) -> None:
    common = ("--url", live_server, "--scenario", "contexts", "--requests", "40",
              "--concurrency", "4", "--max-delay-ms", "0")
    passing, report = await _run(tmp_path, *common, "--threshold", "errors<1%",
                                 "--threshold", "p99<60s", "--threshold",
                                 "[contexts] p50<60s")
    assert passing == 0 and all(row["passed"] for row in report["thresholds"])
    failing, report = await _run(tmp_path, *common, "--threshold", "p50<0.0001ms",
                                 "--threshold", "errors<1%")
    assert failing == 1
    assert [row["passed"] for row in report["thresholds"]] == [False, True]


async def test_the_html_report_is_one_self_contained_page(live_server: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    code, report = await _run(tmp_path, "--url", live_server, "--scenario", "contexts",
                              "--requests", "50", "--concurrency", "5", "--html", str(page),
                              "--threshold", "p99<60s")
    html = page.read_text()
    assert code == 0
    assert html.startswith("<!doctype html>") and html.count("<svg") == 3
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing from elsewhere
    assert "<script" not in html
    for heading in ("Throughput over time", "Latency over time", "Latency distribution",
                    "Endpoints", "Thresholds: all passed", "The server's own figures"):
        assert heading in html
    assert "<td>contexts</td>" in html
    assert render(report, "conduit_requests_total 5\n").count("conduit_requests_total 5") == 1
