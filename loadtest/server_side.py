"""The server's own view of a run, from its ``/metrics`` read before and after (when it shows them
to this client: Conduit does to this machine, and never through HAProxy): how many requests it
answered, its own p50 and p99 (from its latency histogram, as Prometheus's histogram_quantile
estimates them), its CPU per request, and what it refused. The difference between its p99 and the
client's is time spent outside the app: in the kernel's queues, the network, the client."""

from __future__ import annotations

import math
import urllib.request
from collections import defaultdict
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

PROBES = frozenset({"/healthz", "/readyz"})
Figures = dict[str, Any]


def fetch(url: str) -> str | None:
    """The target's /metrics text (Prometheus exposition format), when it shows it to us."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as answer:
            kind = answer.headers.get("Content-Type", "")
            if answer.status == 200 and kind.startswith("text/plain"):
                return str(answer.read(5_000_000).decode("utf-8", "replace"))
    except (OSError, ValueError):
        pass
    return None


def figures(text: str) -> Figures:
    """What a run's view needs from one scrape: requests, 5xx, the latency buckets (summed over
    routes, probes left out), CPU seconds, refusals."""
    out: Figures = {"requests": 0.0, "errors": 0.0, "buckets": defaultdict(float), "cpu": 0.0,
                    "refused": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels, value = sample.labels, sample.value
            if labels.get("route") in PROBES:
                continue
            if sample.name == "conduit_http_requests_total":
                out["requests"] += value
                out["errors"] += value if labels.get("status") == "5xx" else 0.0
            elif sample.name == "conduit_http_request_duration_seconds_bucket":
                out["buckets"][float(labels["le"])] += value
            elif sample.name == "conduit_worker_cpu_seconds_total":
                out["cpu"] += value
            elif sample.name == "conduit_http_refused_total":
                out["refused"] += value
    return out


def quantile(q: float, buckets: dict[float, float]) -> float:
    """Prometheus's histogram_quantile over cumulative ``buckets`` (upper bound: count): linear
    within the bucket the rank falls in; the highest finite bound when it falls in +Inf."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return math.nan
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * ((rank - below) / (count - below) if count > below else 0)
        lower, below = bound, count
    return lower


def view(before: str | None, after: str | None) -> Figures | None:
    """The run's server-side figures (the scrapes' difference), or None without both scrapes."""
    if before is None or after is None:
        return None
    first, last = figures(before), figures(after)
    requests = last["requests"] - first["requests"]
    if requests <= 0:
        return None
    buckets = {le: last["buckets"][le] - first["buckets"].get(le, 0.0) for le in last["buckets"]}
    cpu = last["cpu"] - first["cpu"]
    return {"requests": int(requests), "errors_5xx": int(last["errors"] - first["errors"]),
            "refused": int(last["refused"] - first["refused"]),
            "latency_ms": {"p50": quantile(0.5, buckets) * 1000, "p99": quantile(0.99, buckets) * 1000},
            "cpu_ms_per_request": cpu * 1000 / requests if cpu > 0 else math.nan}
