"""The load generator's ``live`` scenario: its checks catch a lost, a repeated, a swapped and a
stray event; and a small run against conduit-serve with two workers loses and repeats nothing."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from quart import Quart

from loadtest.cli import main
from loadtest.livecheck import check_stream, comment_key, favorite_key
from tests.conftest import ROOT
from tests.support.servers import free_port, running_server

pytestmark = pytest.mark.once  # the load generator: backend-independent

# Three acknowledged writes: comment 7, then ann favorites and unfavorites (answers at t=1, 2, 3).
WRITES = {comment_key(7): 1.0, favorite_key("article.favorited", "ann", 0): 2.0,
          favorite_key("article.unfavorited", "ann", 1): 3.0}


def _comment(seq: int, comment_id: int) -> dict[str, Any]:
    return {"type": "comment.created", "seq": seq, "article": {"slug": "s"},
            "comment": {"id": comment_id, "body": "b"}}


def _favorite(seq: int, kind: str, count: int, who: str = "ann") -> dict[str, Any]:
    return {"type": kind, "seq": seq, "article": {"slug": "s", "favoritesCount": count},
            "by": {"username": who}}


def _good() -> list[tuple[float, Any]]:
    return [(1.5, _comment(11, 7)), (1.9, {"type": "ping"}),
            (2.25, _favorite(12, "article.favorited", 1)),
            (3.5, _favorite(13, "article.unfavorited", 0))]


def test_a_complete_stream_passes_with_its_latencies() -> None:
    tally = check_stream("s1", 10, _good(), WRITES)
    assert (tally.expected, tally.delivered, tally.failures) == (3, 3, 0)
    assert tally.latencies[comment_key(7)] == pytest.approx(0.5)
    assert tally.latencies[favorite_key("article.favorited", "ann", 0)] == pytest.approx(0.25)
    assert tally.early == 0 and tally.samples == []


def test_a_lost_event_is_counted_and_named() -> None:
    stream = [item for item in _good() if item[1].get("seq") != 12]
    tally = check_stream("s1", 10, stream, WRITES)
    assert tally.lost == 1 and tally.delivered == 2
    assert tally.duplicated == tally.out_of_order == tally.unexpected == 0
    assert any("never arrived" in line and "article.favorited" in line for line in tally.samples)


def test_a_repeated_event_is_counted_whether_its_number_repeats_or_not() -> None:
    same_seq = [*_good(), (3.6, _comment(11, 7))]
    tally = check_stream("s1", 10, same_seq, WRITES)
    assert (tally.duplicated, tally.lost, tally.delivered) == (1, 0, 3)
    assert "seq 11 (comment.created) received twice" in tally.samples[0]
    new_seq = [*_good(), (3.6, _comment(14, 7))]  # the same write sent again under a new number
    tally = check_stream("s1", 10, new_seq, WRITES)
    assert (tally.duplicated, tally.lost) == (1, 0)


def test_events_out_of_order_and_strays_fail_the_stream() -> None:
    good = _good()
    swapped = [good[0], good[3], good[2]]  # seq 13 before 12: ann's unfavorite before her favorite
    tally = check_stream("s1", 10, swapped, WRITES)
    assert tally.out_of_order == 1 and tally.failures > 0
    stray = [*good, (4.0, _comment(15, 99)), (4.1, _favorite(16, "article.favorited", 1, "bob"))]
    tally = check_stream("s1", 10, stray, WRITES)
    assert (tally.unexpected, tally.lost, tally.duplicated) == (2, 0, 0)
    old = [(0.5, _comment(9, 7)), *good[2:]]  # numbered before the subscriber's hello
    assert check_stream("s1", 10, old, WRITES).out_of_order == 1
    # A count that does not follow from the favorite events before it (a change out of its order).
    miscounted = [good[0], (2.25, _favorite(12, "article.favorited", 2)), good[3]]
    tally = check_stream("s1", 10, miscounted, WRITES)
    assert tally.count_mismatches == 1 and tally.lost == 0 and tally.failures == 1


def test_an_event_before_its_answer_counts_as_zero_latency() -> None:
    early = [(0.9, _comment(11, 7)), *_good()[2:]]
    tally = check_stream("s1", 10, early, WRITES)
    assert tally.early == 1 and tally.failures == 0
    assert tally.latencies[comment_key(7)] == 0.0


@pytest.mark.parametrize(("argv", "says"), [
    (["--scenario", "live", "--subscribers", "0"], "--subscribers must be"),
    (["--scenario", "live", "--writers", "0"], "--writers must be"),
    (["--scenario", "live", "--write-rate", "0"], "--write-rate must be"),
    (["--scenario", "live", "--duration", "5"], "--duration does not apply"),
    (["--scenario", "live", "--stage", "5s:10"], "--stage does not apply"),
    (["--scenario", "live", "--comment-share", "2"], "--comment-share must be"),
    (["--scenario", "contexts", "--subscribers", "5"], "--subscribers goes with --scenario live"),
])
def test_bad_live_options_exit_2(argv: list[str], says: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--allow-writes"]) == 2
    assert says in capsys.readouterr().err


@pytest.fixture
def two_workers(app: Quart, database_url: str, tmp_path: Path) -> Iterator[str]:
    """conduit-serve with two workers: events written in one worker reach the other's sockets."""
    port = free_port()
    env = {**os.environ, "CONDUIT_ENV": "testing", "CONDUIT_DATABASE_URL": database_url,
           "CONDUIT_LIVE_SOCKETS_PER_ADDRESS": "1000"}
    command = [sys.executable, "-m", "app.serving.serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    with running_server(command, probe=f"http://127.0.0.1:{port}/healthz", cwd=ROOT, env=env,
                        log=tmp_path / "serve.log"):
        yield f"http://127.0.0.1:{port}"


async def test_a_live_run_across_two_workers_loses_and_repeats_nothing(two_workers: str,
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "live.json"
    code = await asyncio.to_thread(main, [
        "--url", two_workers, "--scenario", "live", "--subscribers", "6", "--writers", "2",
        "--writes", "20", "--allow-writes", "--json", str(out)])
    report = json.loads(out.read_text())
    assert report["sample_errors"] == []
    assert code == 0 and report["passed"]
    assert report["connected"] == 6 and report["writes"]["acknowledged"] == 20
    assert report["writes"]["comments"] + report["writes"]["favorites"] == 20
    assert report["deliveries"] == report["deliveries_expected"] == 6 * 20
    assert report["lost"] == report["duplicated"] == report["out_of_order"] == 0
    assert set(report["latency_ms"]) >= {"p50", "p99", "max"}
    assert 0 <= report["latency_ms"]["p50"] <= report["latency_ms"]["p99"] <= report["latency_ms"]["max"]
