"""Cursors: where a page of a list ends, as (created_at, id) of its last article, in a short
opaque text (``<microseconds since 1970>.<id>``). A page read from a cursor is one index walk
from that key, as cheap at the millionth article as at the first; an offset walks everything
before it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.domain.errors import Invalid
from app.domain.limits import ID_MAX

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
LATEST = 253402300799999999  # 9999-12-31T23:59:59.999999Z, the last instant a datetime holds


@dataclass(frozen=True, slots=True)
class Cursor:
    at: datetime
    id: int

    def __str__(self) -> str:
        return f"{(self.at - EPOCH) // MICROSECOND}.{self.id}"


# What a cursor looks like, as the API documents it. "(?!\n)": Python's "$" (not ECMAScript's)
# also matches before a final newline, which a cursor never has.
CURSOR_PATTERN = r"^[0-9]{1,18}\.[0-9]{1,10}(?!\n)$"
CURSOR_RE = re.compile(CURSOR_PATTERN)


def parse_cursor(field: str, text: str) -> Cursor:
    """The cursor ``text`` names; Invalid (for ``field``) when it is not one. A key past the
    largest there can be (a time after 9999, an id past 32 bits) is that largest: no article
    lies beyond it, so the page is the same."""
    if CURSOR_RE.fullmatch(text):
        micros, _, id_ = text.partition(".")
        return Cursor(EPOCH + min(int(micros), LATEST) * MICROSECOND, min(int(id_), ID_MAX))
    raise Invalid({field: ["is not a valid cursor (use the one a page's links give)"]})
