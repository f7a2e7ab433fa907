"""Shapes of load, as k6's ``stages``: ``--stage 30s:100/s`` (open loop, arrivals per second) or
``--stage 1m:50`` (closed loop, virtual users). Each stage moves linearly from the previous
stage's target (the first from 0) to its own over its duration, so ``0s:200/s`` jumps, and a stage
whose target equals the one before holds it. A plain ``--rate``/``--concurrency`` with
``--duration`` is a profile of one held stage."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")
MAX_SECONDS = 24 * 3600


class StageError(ValueError):
    """A stage that does not parse; the message says what a stage looks like."""


def parse_seconds(text: str) -> float:
    """``90s``, ``1.5m``, ``2m30s``, or a bare number of seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    match = DURATION_RE.match(text)
    if not text or not match or not any(match.groups()):
        raise StageError(f"{text!r} is not a duration (30s, 2m, 1m30s)")
    minutes, seconds = (float(part) if part else 0.0 for part in match.groups())
    return minutes * 60 + seconds


@dataclass(frozen=True)
class Stage:
    seconds: float
    target: float  # arrivals per second (open loop) or users (closed loop)
    open_loop: bool


def parse_stage(text: str) -> Stage:
    duration, sep, target = text.partition(":")
    if not sep:
        raise StageError(f"stage {text!r} must be DURATION:TARGET, as 30s:100/s or 1m:50")
    seconds = parse_seconds(duration)
    target = target.strip()
    open_loop = target.endswith("/s")
    number = target[:-2] if open_loop else target
    try:
        value = float(number)
    except ValueError:
        raise StageError(f"stage {text!r}: the target must be a number of users (50) or of "
                         "arrivals per second (100/s)") from None
    if not 0 <= seconds <= MAX_SECONDS or not 0 <= value <= 1_000_000:
        raise StageError(f"stage {text!r}: a duration up to 24h and a target from 0 to 1000000")
    if not open_loop and value != int(value):
        raise StageError(f"stage {text!r}: users are a whole number")
    return Stage(seconds, value, open_loop)


@dataclass(frozen=True)
class Profile:
    stages: tuple[Stage, ...]
    endless: bool = False  # held at the last target until a request budget runs out

    @classmethod
    def held(cls, target: float, open_loop: bool, seconds: float | None) -> Profile:
        if seconds is None:
            return cls((Stage(0, target, open_loop),), endless=True)
        return cls((Stage(0, target, open_loop), Stage(seconds, target, open_loop)))

    @classmethod
    def parse(cls, texts: list[str]) -> Profile:
        stages = tuple(parse_stage(text) for text in texts)
        if len({stage.open_loop for stage in stages}) > 1:
            raise StageError("stages are all users (30s:50) or all arrival rates (30s:100/s), "
                             "not both")
        if sum(stage.seconds for stage in stages) <= 0:
            raise StageError("the stages last no time at all")
        return cls(stages)

    @property
    def open_loop(self) -> bool:
        return self.stages[0].open_loop

    @property
    def total(self) -> float | None:
        return None if self.endless else sum(stage.seconds for stage in self.stages)

    @property
    def peak(self) -> float:
        return max(stage.target for stage in self.stages)

    def at(self, t: float) -> float:
        """The target ``t`` seconds into the run."""
        before, start = 0.0, 0.0
        for stage in self.stages:
            if t < start + stage.seconds:
                return before + (stage.target - before) * (t - start) / stage.seconds
            before, start = stage.target, start + stage.seconds
        return before

    def time_of(self, n: float) -> float | None:
        """When the ``n``-th arrival is due (arrivals so far, the integral of the rate, reach n);
        None when the profile ends first. Exact on ramps, unlike stepping by 1/rate."""
        before, start = 0.0, 0.0
        for i, stage in enumerate(self.stages):
            last = i == len(self.stages) - 1
            here = (before + stage.target) / 2 * stage.seconds
            if n < here or (n == 0 and stage.seconds > 0):
                slope = (stage.target - before) / (2 * stage.seconds)
                if slope == 0:
                    return start + n / before if before else start
                return start + (-before + math.sqrt(before * before + 4 * slope * n)) / (2 * slope)
            n -= here
            before, start = stage.target, start + stage.seconds
            if last and self.endless and before > 0:
                return start + n / before
        return None

    def share(self, parts: int) -> Profile:
        """This profile for one of ``parts`` client processes."""
        return Profile(tuple(Stage(s.seconds, s.target / parts, s.open_loop) for s in self.stages),
                       self.endless)

    def describe(self) -> list[str]:
        unit = "/s" if self.open_loop else " users"
        return [f"{stage.seconds:g}s to {stage.target:g}{unit}" for stage in self.stages]
