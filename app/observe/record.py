"""The record of the request being served: its ID, and what the access line reports, filled in as
the request goes (the route by the app, the user by the sign-in hooks, the statements by the
database's events). It lives in a context variable, so every task the request starts sees it,
and every log line can name the request it belongs to."""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field

KEPT_STATEMENTS = 50  # a slow request's line names at most this many; the count is always whole


@dataclass
class RequestRecord:
    id: str
    started: float = field(default_factory=time.perf_counter)
    route: str | None = None
    user_id: int | None = None
    statements: int = 0
    db_seconds: float = 0.0
    timed: list[tuple[str, float]] = field(default_factory=list)  # (SQL, seconds)

    def statement(self, sql: str, seconds: float) -> None:
        self.statements += 1
        self.db_seconds += seconds
        if len(self.timed) < KEPT_STATEMENTS:
            self.timed.append((sql, seconds))


CURRENT: ContextVar[RequestRecord | None] = ContextVar("conduit_request", default=None)


def current_request_id() -> str | None:
    record = CURRENT.get()
    return record.id if record is not None else None
