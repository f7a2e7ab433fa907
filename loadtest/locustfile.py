"""The load generator's verified scenarios under Locust, for more load than one machine makes:

    locust -f loadtest/locustfile.py --host http://127.0.0.1:8000 --conduit-scenario api-read

Locust gives users and spawn rate, its web UI with live charts, CSV and HTML reports, and its
master and workers across machines (``--master`` here, ``--worker --master-host=...`` on each
load machine). What the users do is loadtest/scenarios.py, the same code the native generator
runs, and every answer is verified by the same ``judge`` (loadtest/client.py): a wrong answer is a
Locust failure (and exit status 1), never a success. A scenario's step is a coroutine; here its
one request goes through Locust's own HTTP client, which gevent makes cooperative, so the
coroutine never suspends and is run to its end at once (``run_step``).

Each worker reads back what its users wrote when the run stops (the write scenarios' check that
nothing acknowledged was lost) and sends its counts to the master, which adds them up and, with
``--conduit-json FILE``, writes them: requests, verified answers, errors by kind, per endpoint.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Coroutine
from typing import Any

import gevent
import gevent.lock
from locust import HttpUser, constant, events, task
from locust.clients import HttpSession
from locust.env import Environment
from locust.rpc import Message
from locust.runners import MasterRunner, WorkerRunner

from loadtest.client import Check, judge, request_headers
from loadtest.scenario import Scenario, SetupError
from loadtest.scenarios import SCENARIOS, WRITERS, make_scenario
from loadtest.stats import ERROR_KINDS, Recorder

MESSAGE = "conduit_verified"
READ_BACK_S = 120.0


class LocustClient:
    """loadtest.client.Client's ``call`` over Locust's HttpSession: one verified request, counted
    both in Locust's statistics (success or failure) and in this process's Recorder."""

    def __init__(self, session: HttpSession, recorder: Recorder, timeout: float) -> None:
        self.session, self.recorder, self.timeout = session, recorder, timeout

    async def call(self, name: str, method: str, path: str, *, body: Any = None,
                   token: str | None = None, expect: int = 200, html: bool = False,
                   check: Check | None = None, started: float | None = None) -> Any:
        begin = time.perf_counter()
        with self.session.request(method, path, name=name, json=body, catch_response=True,
                                  headers=request_headers(html, token),
                                  timeout=self.timeout) as answer:
            if answer.error is not None and not answer.status_code:
                kind = "timeout" if "timeout" in type(answer.error).__name__.lower() else "connection"
                self.recorder.error(name, kind, f"{type(answer.error).__name__}: {answer.error}")
                answer.failure(f"{kind}: {answer.error}")
                return None
            before = sum(self.recorder.errors.values())
            data = judge(self.recorder, name, f"{method} {path}", answer.status_code,
                         answer.headers.get("Content-Type", ""), answer.content,
                         time.perf_counter() - begin, expect=expect, html=html, check=check)
            if sum(self.recorder.errors.values()) > before:
                answer.failure(self.recorder.sample_errors[-1] if self.recorder.sample_errors
                               else "verification failed")
            else:
                answer.success()
            return data


def run_step(step: Coroutine[Any, Any, Any]) -> Any:
    """Run a scenario's coroutine to its end: under Locust none of its awaits suspends."""
    try:
        step.send(None)
    except StopIteration as done:
        return done.value
    step.close()
    raise RuntimeError("a scenario step waited for something Locust's client cannot drive")


class Run:
    """This process's scenario, recorder and seeded random numbers, made on first use."""

    scenario: Scenario | None = None
    recorder = Recorder()
    rng = random.Random(1)
    lock = gevent.lock.Semaphore()
    ids = itertools.count()
    setup_error: str | None = None
    totals: dict[str, Any] = {"workers": 0}


def _options(parser: Any) -> None:
    parser.add_argument("--conduit-scenario", default="api-read", choices=SCENARIOS,
                        help="the verified scenario the users run (loadtest/scenarios.py)")
    parser.add_argument("--conduit-allow-writes", action="store_true",
                        help=f"let {', '.join(WRITERS)} write into the target")
    parser.add_argument("--conduit-timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--conduit-json", default="", help="write the verification counts here")


def _opts(environment: Environment) -> Any:
    """The command line's options (Locust parses them before any user starts)."""
    assert environment.parsed_options is not None
    return environment.parsed_options


def _ensure_scenario(environment: Environment, session: HttpSession) -> Scenario | None:
    with Run.lock:  # the first user learns what the target holds; the others wait for it
        if Run.scenario is None and Run.setup_error is None:
            options = _opts(environment)
            scenario = make_scenario(options.conduit_scenario, f"lc{random.randrange(1 << 24):x}")
            client = LocustClient(session, Recorder(), options.conduit_timeout)
            try:
                if options.conduit_scenario in WRITERS and not options.conduit_allow_writes:
                    raise SetupError(f"{options.conduit_scenario} writes into the target: say "
                                     "--conduit-allow-writes (make loadtest's throwaway server)")
                run_step(scenario.setup(client, Run.rng))  # type: ignore[arg-type]
                Run.scenario = scenario
            except SetupError as error:
                Run.setup_error = str(error)
                if environment.runner is not None:
                    environment.runner.quit()
    return Run.scenario


class ConduitUser(HttpUser):
    """A virtual user: each task is one step of the scenario, one verified request."""

    wait_time = constant(0)  # closed loop: the next request as soon as the answer is in

    def on_start(self) -> None:
        self.vu: dict[str, Any] = {"id": next(Run.ids)}

    @task
    def step(self) -> None:
        scenario = _ensure_scenario(self.environment, self.client)
        if scenario is None:
            return
        client = LocustClient(self.client, Run.recorder, _opts(self.environment).conduit_timeout)
        run_step(scenario.step(client, Run.rng, self.vu))  # type: ignore[arg-type]


def _counts(recorder: Recorder) -> dict[str, Any]:
    errors = recorder.errors
    return {"requests": recorder.requests, "failed": sum(errors.values()),
            "errors": {kind: errors[kind] for kind in ERROR_KINDS}, "leaks": recorder.leaks,
            "endpoints": {name: stats.requests for name, stats in recorder.endpoints.items()},
            "sample_errors": recorder.sample_errors[:5]}


def _add(counts: dict[str, Any]) -> None:
    totals = Run.totals
    totals["workers"] += 1
    for key in ("requests", "failed", "leaks"):
        totals[key] = totals.get(key, 0) + counts[key]
    for group in ("errors", "endpoints"):
        mine = totals.setdefault(group, {})
        for name, value in counts[group].items():
            mine[name] = mine.get(name, 0) + value
    totals.setdefault("sample_errors", []).extend(counts["sample_errors"])


def _on_init(environment: Environment, **_kwargs: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message(MESSAGE, _on_counts)


def _on_counts(environment: Environment, msg: Any, **_kwargs: Any) -> None:
    _add(msg.data)  # Locust passes both by name


def _read_back(environment: Environment, **_kwargs: Any) -> None:
    """Each load process checks its writes, then counts (a worker sends them to the master)."""
    if isinstance(environment.runner, MasterRunner):
        _gather(environment.runner)
        return
    if Run.scenario is not None:
        session = HttpSession(environment.host or "", environment.events.request, None)
        client = LocustClient(session, Run.recorder, _opts(environment).conduit_timeout)
        run_step(Run.scenario.finish(client))  # type: ignore[arg-type]
    counts = _counts(Run.recorder)
    if Run.setup_error:
        counts["sample_errors"].insert(0, f"setup: {Run.setup_error}")
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.send_message(MESSAGE, counts)
    else:
        _add(counts)


def _gather(master: MasterRunner) -> None:
    """At a run's end Locust's master gives its workers half a second, then quits: too short for a
    read-back. It stops them here first and waits (up to READ_BACK_S) for every one's counts."""
    workers = list(master.clients.all)
    for worker in workers:
        master.server.send_to_client(Message("stop", None, worker.id))  # type: ignore[no-untyped-call]
    waited = 0.0
    while Run.totals["workers"] < len(workers) and waited < READ_BACK_S:
        gevent.sleep(0.1)
        waited += 0.1


def _write_counts(environment: Environment, **_kwargs: Any) -> None:
    path = environment.parsed_options.conduit_json if environment.parsed_options else ""
    if path and not isinstance(environment.runner, WorkerRunner):
        with open(path, "w") as out:
            json.dump(Run.totals, out, indent=1)


# Locust's add_listener is untyped; the hooks above are typed.
for hook, listener in ((events.init_command_line_parser, _options), (events.init, _on_init),
                       (events.test_stop, _read_back), (events.quitting, _write_counts)):
    hook.add_listener(listener)  # type: ignore[no-untyped-call]
