"""Counting and percentiles for the load generator. Pure functions and plain data: easy to test."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from loadtest.histogram import Histogram

PERCENTILES = (50.0, 90.0, 99.0, 99.9)
ERROR_KINDS = ("timeout", "connection", "verification", "status")


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least p% of values at or below it."""
    if not sorted_values:
        return math.nan
    if not 0 < p <= 100:
        raise ValueError("p must be in (0, 100]")
    rank = math.ceil(p / 100 * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


@dataclass
class EndpointStats:
    latencies: list[float] = field(default_factory=list)  # seconds, every answered request
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.errors["timeout"] + self.errors["connection"]


@dataclass
class Second:
    """One second of a run: what ended in it, and the latencies of its answers."""

    ok: int = 0
    errors: int = 0
    refused: int = 0  # 503s: the server said it is busy or cannot serve now
    latency: Histogram = field(default_factory=Histogram)


@dataclass
class Recorder:
    """Everything one run observed. Merged across worker processes with ``merge``."""

    endpoints: dict[str, EndpointStats] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    leaks: int = 0  # verification failures that were another request's token
    sample_errors: list[str] = field(default_factory=list)
    t0: float = field(default_factory=time.perf_counter)
    timeline: dict[int, Second] = field(default_factory=dict)
    answered: Histogram = field(default_factory=Histogram)  # every answer's latency
    verified: Histogram = field(default_factory=Histogram)  # the verified answers' alone
    refusals: Histogram = field(default_factory=Histogram)  # the 503s' latency
    # Open loop: how late this client itself sent each request (its loop or CPU was busy), a part
    # of every latency above, which runs from the scheduled start.
    late: Histogram = field(default_factory=Histogram)

    def _endpoint(self, name: str) -> EndpointStats:
        return self.endpoints.setdefault(name, EndpointStats())

    def _second(self) -> Second:
        return self.timeline.setdefault(int(time.perf_counter() - self.t0), Second())

    def ok(self, name: str, status: int, seconds: float) -> None:
        self._endpoint(name).latencies.append(seconds)
        self.statuses[status] += 1
        second = self._second()
        second.ok += 1
        second.latency.record(seconds)
        self.answered.record(seconds)
        self.verified.record(seconds)

    def error(self, name: str, kind: str, detail: str, status: int | None = None,
              seconds: float | None = None) -> None:
        assert kind in ERROR_KINDS, kind
        stats = self._endpoint(name)
        stats.errors[kind] += 1
        second = self._second()
        second.errors += 1
        if seconds is not None:  # the server answered, wrongly: still a latency sample
            stats.latencies.append(seconds)
            second.latency.record(seconds)
            self.answered.record(seconds)
        if status is not None:
            self.statuses[status] += 1
        if status == 503 and seconds is not None:
            second.refused += 1
            self.refusals.record(seconds)
        if len(self.sample_errors) < 10:
            self.sample_errors.append(f"{name}: {kind}: {detail}")

    @property
    def requests(self) -> int:
        return sum(stats.requests for stats in self.endpoints.values())

    @property
    def errors(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for stats in self.endpoints.values():
            total.update(stats.errors)
        return total

    def merge(self, other: Recorder) -> None:
        for name, stats in other.endpoints.items():
            mine = self._endpoint(name)
            mine.latencies.extend(stats.latencies)
            mine.errors.update(stats.errors)
        self.statuses.update(other.statuses)
        for at, theirs in other.timeline.items():
            mine_s = self.timeline.setdefault(at, Second())
            mine_s.ok += theirs.ok
            mine_s.errors += theirs.errors
            mine_s.refused += theirs.refused
            mine_s.latency.merge(theirs.latency)
        self.answered.merge(other.answered)
        self.verified.merge(other.verified)
        self.refusals.merge(other.refusals)
        self.late.merge(other.late)
        self.leaks += other.leaks
        self.sample_errors.extend(other.sample_errors[: 10 - len(self.sample_errors)])


def summarise(latencies: list[float]) -> dict[str, float]:
    """Milliseconds: p50, p90, p99, p99.9 and max."""
    ordered = sorted(latencies)
    out = {f"p{p:g}": percentile(ordered, p) * 1000 for p in PERCENTILES}
    out["max"] = (ordered[-1] * 1000) if ordered else math.nan
    return out


def report_dict(recorder: Recorder, *, target: str, scenario: str, wall_seconds: float,
                concurrency: int, client_cpu: float, extra: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """The whole report as plain JSON-able data (also what the console table shows)."""
    every = [s for stats in recorder.endpoints.values() for s in stats.latencies]
    errors = recorder.errors
    total = recorder.requests
    failed = sum(errors.values())
    return {
        "target": target,
        "scenario": scenario,
        "concurrency": concurrency,
        "duration_s": round(wall_seconds, 3),
        "requests": total,
        "succeeded": total - failed,
        "error_rate": (failed / total) if total else 0.0,
        "throughput_rps": (total / wall_seconds) if wall_seconds > 0 else 0.0,
        "latency_ms": summarise(every),
        "statuses": {str(k): v for k, v in sorted(recorder.statuses.items())},
        "errors": {kind: errors[kind] for kind in ERROR_KINDS},
        "leaks": recorder.leaks,
        "client_cpu": round(client_cpu, 3),
        "endpoints": {
            name: {"requests": stats.requests, "errors": sum(stats.errors.values()),
                   "latency_ms": summarise(stats.latencies)}
            for name, stats in sorted(recorder.endpoints.items())
        },
        "sample_errors": recorder.sample_errors,
        "goodput_rps": ((total - failed) / wall_seconds) if wall_seconds > 0 else 0.0,
        "verified_latency_ms": _from_histogram(recorder.verified),
        "refused": {"count": recorder.refusals.count,
                    "latency_ms": _from_histogram(recorder.refusals)},
        "client_late_ms": _from_histogram(recorder.late),
        "timeline": [
            {"t": at, "ok": sec.ok, "errors": sec.errors, "refused": sec.refused,
             **{name: _round(value) for name, value in _from_histogram(sec.latency).items()}}
            for at, sec in sorted(recorder.timeline.items())
        ],
        "distribution": [[round(p, 4), round(ms, 3)] for p, ms in recorder.answered.percentile_curve()],
        **(extra or {}),
    }


def _from_histogram(histogram: Histogram) -> dict[str, float]:
    out = {f"p{p:g}": histogram.percentile_ms(p) for p in PERCENTILES}
    out["max"] = histogram.percentile_ms(100)
    return out


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 2)
