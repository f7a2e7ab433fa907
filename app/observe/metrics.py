"""The server's figures in Prometheus's exposition format (``prometheus-client``), at ``/metrics``.

Under conduit-serve every worker writes to files in one folder per server
(``PROMETHEUS_MULTIPROC_DIR``, made by the supervisor before any worker starts), and a scrape
adds them up: a worker that dies and is replaced loses nothing it counted, and its in-flight and
pool gauges leave with it (``mark_process_dead``). In one process (``quart run``, the tests'
client) the figures are that process's.

Label values are bounded whatever a client sends: the route is the matched route's template
(``/api/articles/{slug}``, or ``unmatched``), the method one of ``METHODS`` or ``other``, the
status its class (``2xx``).
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as mp

from app.observe.shared import MULTIPROCESS, ensure_folder

ensure_folder()  # before the first metric below writes its file there

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
# Seconds: these requests take from under a millisecond (a cached read) to seconds (overload).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STATEMENT_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21, 34, 55)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REQUESTS = Counter("conduit_http_requests_total", "HTTP requests answered",
                   ("route", "method", "status"))
DURATION = Histogram("conduit_http_request_duration_seconds", "Time to answer an HTTP request",
                     ("route", "method"), buckets=LATENCY_BUCKETS)
IN_FLIGHT = Gauge("conduit_http_requests_in_flight", "HTTP requests being served",
                  multiprocess_mode="livesum")
REFUSED = Counter("conduit_http_refused_total", "Requests refused before any work, by reason",
                  ("reason",))
REFUSED_BUSY = REFUSED.labels("busy")
REFUSED_BUSY.inc(0)  # 0 from the start: a rate of refusals before the first one
STATEMENTS = Histogram("conduit_db_statements_per_request", "SQL statements one request ran",
                       ("route",), buckets=STATEMENT_BUCKETS)
DB_TIME = Histogram("conduit_db_seconds_per_request", "Time one request spent in SQL statements",
                    ("route",), buckets=LATENCY_BUCKETS)
POOL_SIZE = Gauge("conduit_db_pool_size", "Connections the database pools may hold",
                  multiprocess_mode="livesum")
POOL_IN_USE = Gauge("conduit_db_pool_in_use", "Pooled database connections checked out",
                    multiprocess_mode="livesum")
POOL_WAITING = Gauge("conduit_db_pool_waiting", "Requests waiting for a pooled connection",
                     multiprocess_mode="livesum")
POOL_WAIT = Histogram("conduit_db_pool_wait_seconds", "Time to get a pooled connection",
                      buckets=LATENCY_BUCKETS)
LIVE_SUBSCRIBERS = Gauge("conduit_live_subscribers", "Open live sockets",
                         multiprocess_mode="livesum")
LIVE_DELIVERED = Counter("conduit_live_events_delivered_total", "Live events sent to sockets")
LIVE_CUT = Counter("conduit_live_sockets_cut_total", "Live sockets closed by the server, by reason",
                   ("reason",))
RATE_LIMITED = Counter("conduit_rate_limit_refusals_total", "Requests refused by a rate limit",
                       ("rule",))
RESTARTS = Counter("conduit_worker_restarts_total", "Workers the supervisor replaced")
CPU = Counter("conduit_worker_cpu_seconds_total",
              "CPU time the workers used (noted as each request ends)")
BUILD = Gauge("conduit_build_info", "The running version and database schema revision",
              ("version", "schema_revision"), multiprocess_mode="livemax")


REFUSED_ROUTE = "refused"  # the route label of a request refused before any route was matched


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "none"


class _Route:
    """One route and method's series, looked up once: ``labels()`` on every request would cost
    more than the figures themselves (their number is bounded as the labels are)."""

    __slots__ = ("db_time", "duration", "method", "requests", "route", "statements")

    def __init__(self, route: str, method: str) -> None:
        self.route, self.method = route, method
        self.requests: dict[str, Any] = {}  # by status class, as they come
        self.duration = DURATION.labels(route, method)
        self.statements = STATEMENTS.labels(route)
        self.db_time = DB_TIME.labels(route)

    def answered(self, status: int) -> None:
        kind = status_class(status)
        counter = self.requests.get(kind)
        if counter is None:
            counter = self.requests[kind] = REQUESTS.labels(self.route, self.method, kind)
        counter.inc()


_routes: dict[tuple[str, str], _Route] = {}  # keyed by the labels: as bounded as they are
_cpu_noted = time.process_time()


def observe_request(route: str | None, method: str, status: int, seconds: float,
                    statements: int, db_seconds: float) -> None:
    global _cpu_noted
    cpu = time.process_time()
    CPU.inc(cpu - _cpu_noted)
    _cpu_noted = cpu
    key = (route or UNMATCHED, method if method in METHODS else "other")
    series = _routes.get(key)
    if series is None:
        series = _routes[key] = _Route(*key)
    series.answered(status)
    series.duration.observe(seconds)
    series.statements.observe(statements)
    series.db_time.observe(db_seconds)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROCESS))


def exposition() -> bytes:
    """Every process's figures added up (multiprocess), or this process's."""
    if multiprocess():
        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()

