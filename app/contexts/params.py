"""Input rules shared by the async lab and its WSGI twin (no Quart or Flask import here)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

MAX_DELAY_MS = 10_000
MAX_TOKEN_LENGTH = 64


class LabInputError(ValueError):
    """A query parameter is missing or out of range; answered as 422 JSON, never 500."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}")
        self.field = field
        self.message = message

    def body(self) -> dict[str, dict[str, list[str]]]:
        # The shape of the RealWorld error contract the JSON API uses.
        return {"errors": {self.field: [self.message]}}


def parse_token(args: Mapping[str, str]) -> str:
    token = args.get("token", "")
    if not token:
        raise LabInputError("token", "is required")
    if len(token) > MAX_TOKEN_LENGTH:
        raise LabInputError("token", f"must be at most {MAX_TOKEN_LENGTH} characters")
    return token


def parse_ms(args: Mapping[str, str], name: str) -> int:
    """A whole number of milliseconds in 0..MAX_DELAY_MS; absent means 0."""
    raw = args.get(name, "0").strip()
    # Length first: int() of thousands of digits is slow work (and refused past 4,300 digits).
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(MAX_DELAY_MS)):
        raise LabInputError(name, f"must be a whole number from 0 to {MAX_DELAY_MS}")
    value = int(raw)
    if value > MAX_DELAY_MS:
        raise LabInputError(name, f"must be a whole number from 0 to {MAX_DELAY_MS}")
    return value


IN_FLIGHT_HEADER = "X-In-Flight"


class InFlight:
    """How many requests are inside ``entered()`` in this process right now.

    Echo answers carry it (header ``X-In-Flight``, read after the await): on the event loop it climbs
    to however many requests overlap; under threads it can never pass the pool's size.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the twin's threads share it; on the loop it is uncontended
        self._count = 0

    @contextmanager
    def entered(self) -> Iterator[None]:
        with self._lock:
            self._count += 1
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1

    @property
    def count(self) -> int:
        return self._count


def wait_answer(ms: int, started: float, in_flight: int) -> dict[str, Any]:
    """The answer of ``/contexts/wait`` (async lab and twin alike). ``started`` is the wall clock
    (``time.time()``) when the server began to hold it, so a client on the same machine can tell the
    time it was queued from the time it was held."""
    return {"ms": ms, "started_at": started, "held_ms": round((time.time() - started) * 1000, 1),
            "in_flight": in_flight, "thread_id": threading.get_ident(), "pid": os.getpid()}
