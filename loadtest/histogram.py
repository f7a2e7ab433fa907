"""A latency histogram with HDR Histogram's guarantee: every value is kept within a fixed relative
error (here 1/128, under 0.8%) from 1 µs to hours, in a few kilobytes whatever the count, and two
histograms merge exactly (worker processes, per-second buckets). The layout is HdrHistogram's:
a value's bucket is its power of two, and within it one of ``SUB`` equal sub-buckets."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

SUB_BITS = 7
SUB = 1 << SUB_BITS  # sub-buckets per power of two: relative error below 1 / SUB


def _index(micros: int) -> int:
    if micros < SUB:
        return micros  # exact below 128 µs
    shift = micros.bit_length() - SUB_BITS - 1
    return (shift + 1) * SUB + (micros >> shift) - SUB


def _value(index: int) -> float:
    """The middle of the bucket ``index`` covers, in µs (what a percentile reports)."""
    if index < SUB:
        return float(index)
    shift = index // SUB - 1
    low = (index % SUB + SUB) << shift
    return low + ((1 << shift) - 1) / 2


class Histogram:
    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()
        self.count = 0
        self.min_s = math.inf
        self.max_s = 0.0

    def record(self, seconds: float) -> None:
        self.counts[_index(max(0, round(seconds * 1e6)))] += 1
        self.count += 1
        self.min_s = min(self.min_s, seconds)
        self.max_s = max(self.max_s, seconds)

    def merge(self, other: Histogram) -> None:
        self.counts.update(other.counts)
        self.count += other.count
        self.min_s = min(self.min_s, other.min_s)
        self.max_s = max(self.max_s, other.max_s)

    def percentile_ms(self, p: float) -> float:
        """The value at or below which p% of values lie (nearest rank), in ms; NaN when empty.
        p=100 is the exact maximum."""
        if not self.count:
            return math.nan
        if p >= 100:
            return self.max_s * 1000
        rank = max(1, math.ceil(p / 100 * self.count))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return min(_value(index) / 1000, self.max_s * 1000)
        return self.max_s * 1000

    def percentile_curve(self) -> Iterator[tuple[float, float]]:
        """(percentile, ms) at each bucket's upper end: the HdrHistogram percentile plot."""
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            yield 100 * seen / self.count, min(_value(index) / 1000, self.max_s * 1000)
