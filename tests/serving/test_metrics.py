"""/metrics on a real conduit-serve with 2 workers: the counts and histograms of a known mix of
requests, added up across both workers and across a worker killed mid-way (nothing it counted is
lost); a path no route matches makes no new label value; the endpoint is refused to addresses
not allowed and to anything a proxy forwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import Server, free_port, running_server, worker_pids

pytestmark = pytest.mark.once


@contextmanager
def server(tmp_path: Path, database_url: str, **settings: str) -> Iterator[tuple[httpx.Client, Server]]:
    port = free_port()
    env = {**os.environ, "CONDUIT_ENV": "testing", "CONDUIT_DATABASE_URL": database_url,
           "CONDUIT_ACCESS_LOG": "off"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(settings)
    command = [sys.executable, "-m", "app.serving.serve", "--bind", f"127.0.0.1:{port}",
               "--workers", "2"]
    with running_server(command, probe=f"http://127.0.0.1:{port}/healthz", env=env,
                        log=tmp_path / "serve.log") as running, \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client, running


def samples(client: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def value(figures: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    return figures.get((name, frozenset(labels.items())), 0.0)


def test_counts_add_up_across_workers_and_a_killed_one(tmp_path: Path, database_url: str) -> None:
    folder = tmp_path / "metrics"
    (folder / "stale").mkdir(parents=True)
    (folder / "counter_1.db").write_bytes(b"a previous run's")
    with server(tmp_path, database_url, PROMETHEUS_MULTIPROC_DIR=str(folder)) as (client, running):
        assert not (folder / "counter_1.db").exists()  # a previous run's counts are not this one's
        for _ in range(30):
            assert client.get("/api/tags").status_code == 200
        for _ in range(7):
            assert client.get("/api/articles/no-such-article").status_code == 404
        before = samples(client)
        assert value(before, "conduit_http_requests_total",
                     route="/api/tags", method="GET", status="2xx") == 30
        assert value(before, "conduit_http_requests_total",
                     route="/api/articles/{slug}", method="GET", status="4xx") == 7
        assert value(before, "conduit_http_request_duration_seconds_count",
                     route="/api/tags", method="GET") == 30
        assert value(before, "conduit_db_statements_per_request_count", route="/api/tags") == 30
        assert value(before, "conduit_db_statements_per_request_sum", route="/api/tags") >= 30
        # Refusals are there before the first one (a rate of 0, not no series, for the rules).
        assert ("conduit_http_refused_total", frozenset({("reason", "busy")})) in before
        assert value(before, "conduit_http_refused_total", reason="busy") == 0

        pids = worker_pids(running.proc.pid)
        assert len(pids) == 2
        victim = next(iter(pids))
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while not (len(now := worker_pids(running.proc.pid)) == 2 and victim not in now):
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.1)
        # The replacement counts itself as it starts, and its pool once it serves (its figures
        # are files of its own): wait for both.
        while not (value(seen := samples(client), "conduit_worker_restarts_total") >= 1
                   and value(seen, "conduit_db_pool_size") >= 2 * 5):
            assert time.monotonic() < deadline, "the new worker never started serving"
            time.sleep(0.1)
        for _ in range(10):
            client.get("/api/tags")  # whichever worker takes it, the new one included
        after = samples(client)
        assert value(after, "conduit_http_requests_total",
                     route="/api/tags", method="GET", status="2xx") == 40  # nothing lost
        assert value(after, "conduit_worker_restarts_total") == 1
        # The dead worker's gauges left with it (its counts stay); a scrape is not counted.
        assert value(after, "conduit_http_requests_in_flight") == 0
        assert value(after, "conduit_db_pool_size") == 2 * 5  # two live workers' pools, not three
        assert value(after, "conduit_db_pool_in_use") == 0
        assert not list(folder.glob(f"gauge_live*_{victim}.db"))
        assert list(folder.glob(f"counter_{victim}.db"))
        build = [dict(labels) for name, labels in after if name == "conduit_build_info"]
        assert len(build) == 1 and build[0]["version"] == "0.1.0" and build[0]["schema_revision"]
        assert value(after, "conduit_build_info", **build[0]) == 1


def test_a_path_no_route_matches_makes_no_new_label(tmp_path: Path, database_url: str) -> None:
    with server(tmp_path, database_url) as (client, _running):
        for n in range(5):
            client.get(f"/nowhere-{n}/x{n}")
            client.request("BREW", f"/api/tags-{n}")
        figures = samples(client)
        labels = {v for (_name, pairs) in figures for _k, v in pairs}
        assert not any("nowhere" in label or "tags-" in label for label in labels)
        assert "/healthz" not in labels  # the probes (the start-up wait asked it) are not traffic
        assert value(figures, "conduit_http_requests_total", route="unmatched", method="GET",
                     status="4xx") == 5
        assert value(figures, "conduit_http_requests_total", route="unmatched", method="other",
                     status="4xx") == 5


def test_metrics_are_refused_to_other_addresses_and_through_a_proxy(tmp_path: Path,
                                                                    database_url: str) -> None:
    with server(tmp_path, database_url, CONDUIT_METRICS_ALLOW="10.9.9.0/24") as (client, _r):
        refused = client.get("/metrics")
        assert refused.status_code == 403
        assert "not open to this address" in refused.text
    with server(tmp_path, database_url) as (client, _r):
        assert client.get("/metrics").status_code == 200  # loopback: allowed by default
        posted = client.post("/metrics", content=b"x")
        assert posted.status_code == 405 and posted.headers["allow"] == "GET, HEAD"
        forwarded = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert forwarded.status_code == 403  # a proxy passed it on from someone else


def test_a_folder_not_made_yet_is_made_and_one_in_use_is_not_taken(tmp_path: Path,
                                                                  database_url: str) -> None:
    """An operator's PROMETHEUS_MULTIPROC_DIR that does not exist yet is made (the workers'
    first metric would fail on it); a second server given the same folder refuses to start
    rather than delete the running one's figures."""
    folder = tmp_path / "not" / "made"
    with server(tmp_path, database_url, PROMETHEUS_MULTIPROC_DIR=str(folder)) as (client, _r):
        assert client.get("/api/tags").status_code == 200
        assert value(samples(client), "conduit_http_requests_total", route="/api/tags",
                     method="GET", status="2xx") == 1
        files = sorted(folder.glob("*.db"))
        env = {**os.environ, "CONDUIT_ENV": "testing", "CONDUIT_DATABASE_URL": database_url,
               "PROMETHEUS_MULTIPROC_DIR": str(folder)}
        second = subprocess.run([sys.executable, "-m", "app.serving.serve", "--bind",
                                 f"127.0.0.1:{free_port()}", "--workers", "1"], env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert "holds the figures of another server" in second.stderr
        assert files and all(path.exists() for path in files)
        assert value(samples(client), "conduit_http_requests_total", route="/api/tags",
                     method="GET", status="2xx") == 1  # still there
