"""Pass/fail criteria like k6's ``thresholds``: ``--threshold 'p99<250ms'``,
``--threshold 'errors<0.1%'``, ``--threshold '[GET /api/tags] p99<100ms'`` (one endpoint, named as
the report's table names it). A run that crosses any threshold exits 1, for CI.

Metrics: latency percentiles ``p50 p90 p99 p99.9 max`` (also written ``p(99)``; ms unless ``s``),
over every answered request, ``errors`` and ``refused`` (shares of all requests: ``0.1%`` or
``0.001``; ``refused`` counts 503 answers), ``rps`` and ``goodput`` (requests and verified answers
per second). For one endpoint: its percentiles and ``errors``.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LATENCIES = ("p50", "p90", "p99", "p99.9", "max")
RATIOS = ("errors", "refused")
RATES = ("rps", "goodput")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
THRESHOLD_RE = re.compile(r"^\s*(?:\[(?P<endpoint>[^\]]+)\]\s*)?(?P<metric>[a-z0-9.()]+)\s*"
                          r"(?P<op><=|>=|<|>)\s*(?P<value>[0-9.]+)\s*(?P<unit>ms|s|%)?\s*$")


class ThresholdError(ValueError):
    """A threshold that does not parse."""


@dataclass(frozen=True)
class Threshold:
    text: str
    metric: str
    op: str
    value: float  # ms for latencies, a share (0..1) for ratios, per second for rates
    endpoint: str | None = None

    def observed(self, report: dict[str, Any]) -> float:
        if self.endpoint is not None:
            row = report["endpoints"].get(self.endpoint)
            if row is None:
                return math.nan
            if self.metric == "errors":
                return float(row["errors"] / row["requests"]) if row["requests"] else 0.0
            return float(row["latency_ms"][self.metric])
        if self.metric in LATENCIES:
            return float(report["latency_ms"][self.metric])
        if self.metric == "errors":
            return float(report["error_rate"])
        if self.metric == "refused":
            total = report["requests"]
            return report["refused"]["count"] / total if total else 0.0
        return float(report["throughput_rps" if self.metric == "rps" else "goodput_rps"])

    def holds(self, report: dict[str, Any]) -> tuple[bool, float]:
        """Whether the run meets it, and the figure it saw (a missing figure never passes)."""
        seen = self.observed(report)
        return (not math.isnan(seen) and OPERATORS[self.op](seen, self.value)), seen


def parse_threshold(text: str) -> Threshold:
    match = THRESHOLD_RE.match(text)
    if not match:
        raise ThresholdError(f"threshold {text!r} must look like 'p99<250ms', 'errors<0.1%' or "
                             "'[GET /api/tags] p99<100ms'")
    metric = re.sub(r"^p\((.+)\)$", r"p\1", match["metric"])
    value, unit, endpoint = float(match["value"]), match["unit"], match["endpoint"]
    if metric in LATENCIES:
        if unit == "%":
            raise ThresholdError(f"threshold {text!r}: a latency is in ms or s, not %")
        value = value * 1000 if unit == "s" else value
    elif metric in RATIOS:
        if unit in ("ms", "s"):
            raise ThresholdError(f"threshold {text!r}: {metric} is a share (0.1% or 0.001)")
        value = value / 100 if unit == "%" else value
    elif metric in RATES:
        if unit:
            raise ThresholdError(f"threshold {text!r}: {metric} is a number per second")
    else:
        raise ThresholdError(f"threshold {text!r}: unknown metric {metric!r} (one of "
                             f"{', '.join(LATENCIES + RATIOS + RATES)})")
    if endpoint is not None and metric not in (*LATENCIES, "errors"):
        raise ThresholdError(f"threshold {text!r}: an endpoint has latencies and errors only")
    return Threshold(text.strip(), metric, match["op"], value,
                     endpoint.strip() if endpoint else None)


def judge(thresholds: list[Threshold], report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per threshold: its text, the figure seen and whether it held."""
    rows = []
    for threshold in thresholds:
        ok, seen = threshold.holds(report)
        rows.append({"threshold": threshold.text, "observed": None if math.isnan(seen) else seen,
                     "passed": ok})
    return rows
