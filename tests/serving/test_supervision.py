"""conduit-serve keeps its workers alive: a killed worker is replaced while clients keep getting
answers, a crash loop ends the server with exit status 1 and one line, SIGTERM drains."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.servers import (
    Server,
    free_port,
    running_server,
    wait_until_echo_in_flight,
    worker_pids,
)

pytestmark = pytest.mark.once  # the process supervisor: backend-independent


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@contextmanager
def serving(database_url: str, log: Path, workers: int = 2) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "CONDUIT_ENV": "testing", "CONDUIT_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "app.serving.serve", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers)]
    with running_server(command, probe=f"http://127.0.0.1:{port}/healthz", cwd=ROOT, env=env,
                        log=log) as server:
        assert wait_for(lambda: len(worker_pids(server.proc.pid)) == workers, 30)
        yield server


class Prober(threading.Thread):
    """GET a page over a new connection again and again, noting when each answer came."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.answers: list[tuple[float, int | str]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    outcome: int | str = response.status
            except OSError as error:
                outcome = type(error).__name__
            self.answers.append((time.monotonic(), outcome))
            time.sleep(0.01)


def test_a_killed_worker_is_replaced_while_clients_keep_getting_answers(
        database_url: str, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with serving(database_url, log) as server:
        master = server.proc.pid
        before = worker_pids(master)
        prober = Prober(f"{server.url}/api/tags")
        prober.start()
        assert wait_for(lambda: len(prober.answers) >= 3, 30)  # answering before the kill
        victim = min(before)
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)  # as the OOM killer would
        replaced = wait_for(lambda: len(worker_pids(master) - before) == 1
                            and len(worker_pids(master)) == 2, 20)
        replaced_at = time.monotonic()
        assert wait_for(lambda: sum(when >= killed_at for when, _ in list(prober.answers)) >= 20
                        and sum(when >= replaced_at for when, _ in list(prober.answers)) >= 5, 60)
        prober.done.set()
        prober.join()
        assert replaced, f"no new worker: {worker_pids(master)} (before: {before})\n{log.read_text()}"
        assert server.proc.poll() is None  # before: every worker ended and the master exited 0
        after_kill = [outcome for when, outcome in prober.answers if when >= killed_at]
        failed = [outcome for outcome in after_kill if outcome != 200]
        # The survivor answered while its sibling was replaced; at most a request in flight on
        # the killed worker was lost.
        assert len(after_kill) >= 20 and len(failed) <= 1, failed
        assert f"worker {victim} was killed by SIGKILL" in log.read_text()
        # The new worker answers too, once started: the lab's echo names the answering process.
        new = (worker_pids(master) - before).pop()
        assert wait_for(lambda: _answering_pid(server.url) == new, 30)


def _answering_pid(base: str) -> int | None:
    """The pid of the worker that answered; None when none answered within 10 s (on a loaded
    machine, new workers still importing the app while the connection waits in the backlog)."""
    try:
        with urllib.request.urlopen(f"{base}/contexts/echo?token=t", timeout=10) as answer:
            pid: int = json.loads(answer.read())["pid"]
    except OSError:
        return None
    return pid


def test_a_crash_loop_ends_the_server_with_status_1_and_one_line(tmp_path: Path) -> None:
    # Settings pass the master's check, but no worker can open this database (its folder is a file).
    env = {**os.environ, "CONDUIT_ENV": "testing",
           "CONDUIT_DATABASE_URL": "sqlite+aiosqlite:////dev/null/conduit.db"}
    command = [sys.executable, "-m", "app.serving.serve", "--bind", f"127.0.0.1:{free_port()}",
               "--workers", "2"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1  # before: 0, so restart-on-failure never fired
    last = result.stderr.strip().splitlines()[-1]
    assert ("conduit-serve: workers keep dying as they start (5 in a row; the last exited with "
            "status") in last, last


def test_sighup_replaces_every_worker_and_keeps_serving(database_url: str, tmp_path: Path) -> None:
    with serving(database_url, tmp_path / "serve.log") as server:
        before = worker_pids(server.proc.pid)
        server.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: len(worker_pids(server.proc.pid)) == 2
                        and not worker_pids(server.proc.pid) & before, 30)
        assert wait_for(lambda: _answering_pid(server.url) in worker_pids(server.proc.pid), 60)
        assert server.proc.poll() is None


def test_sigterm_drains_requests_in_flight(database_url: str, tmp_path: Path) -> None:
    with serving(database_url, tmp_path / "serve.log") as server:
        slow: dict[str, object] = {}

        def request() -> None:
            with urllib.request.urlopen(f"{server.url}/contexts/echo?token=slow&delay_ms=3000",
                                        timeout=10) as answer:
                slow["status"], slow["body"] = answer.status, answer.read()

        thread = threading.Thread(target=request)
        thread.start()
        wait_until_echo_in_flight(server.url)
        # As systemd stops a service: SIGTERM to every process of it, workers included. The
        # workers leave the draining to the master.
        for worker in worker_pids(server.proc.pid):
            os.kill(worker, signal.SIGTERM)
        server.proc.send_signal(signal.SIGTERM)
        thread.join()
        assert slow["status"] == 200 and b'"token":"slow"' in slow["body"]  # type: ignore[operator]
        assert server.proc.wait(timeout=20) == 0


def test_it_announces_only_a_serving_worker_and_says_when_it_stops(database_url: str,
                                                                   tmp_path: Path) -> None:
    """Before, "serving on" came as the sockets were bound, before any worker could answer, and
    a stop said nothing."""
    log = tmp_path / "serve.log"
    with serving(database_url, log) as server:
        assert wait_for(lambda: "Conduit is serving on" in log.read_text(), 30)
        text = log.read_text()
        # Each worker logs "Running on" once it serves; the announcement comes after one did.
        assert text.index("Running on") < text.index("Conduit is serving on")
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=30) == 0
    text = log.read_text()
    assert "Conduit is stopping: finishing the requests in flight" in text
    assert text.rstrip().endswith("Conduit stopped (its workers drained)")


def test_it_prints_the_address_it_really_binds(database_url: str, tmp_path: Path) -> None:
    """Before, `make run` printed http://127.0.0.1:8000 whatever hypercorn.toml or --bind said."""
    log = tmp_path / "serve.log"
    with serving(database_url, log) as server:
        port = server.url.rsplit(":", 1)[1]
        assert wait_for(lambda: "Conduit is serving on" in log.read_text(), 30)
        assert f"Conduit is serving on http://127.0.0.1:{port} with 2 workers" in log.read_text()
        urllib.request.urlopen(f"{server.url}/api/articles?limit=3&offset=0", timeout=5).close()
        # The access log keeps the query string (?page=2 and ?tag=x were told apart by nothing).
        assert wait_for(lambda: '"GET /api/articles?limit=3&offset=0 HTTP/1.1" 200' in log.read_text(), 5)
