"""Cursors: where a page of a list ends, as (created_at, id) of its last article, in a short
opaque text (``<microseconds since 1970>.<id>``). A page read from a cursor is one index walk
from that key, as cheap at the millionth article as at the first; an offset walks everything
before it."""

from __future__ import annotations

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


def parse_cursor(field: str, text: str) -> Cursor:
    """The cursor ``text`` names; Invalid (for ``field``) when it names none."""
    micros, dot, id_ = text.partition(".")
    if (dot and micros.isascii() and micros.isdigit() and id_.isascii() and id_.isdigit()
            and len(micros) <= 18 and int(micros) <= LATEST and 0 < int(id_) <= ID_MAX):
        return Cursor(EPOCH + int(micros) * MICROSECOND, int(id_))
    raise Invalid({field: ["is not a valid cursor (use the one a page's links give)"]})
