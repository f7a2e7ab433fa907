"""Paging for the site's lists: ``Position`` and ``requested_position`` for the article lists
(cursors, with ``?page=N`` kept as an offset for older links), and ``Pager`` and
``requested_page`` for numbered pages (the admin's lists, an article's comments). Page numbers and
cursors come from the URL, which anyone can edit, so they are checked here: a made-up cursor is a
400 and a huge page number the last page, never a 500.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from quart import abort, current_app, request

from app.domain import Invalid
from app.domain.cursors import parse_cursor

DEFAULT_PAGE_SIZE = 10
MAX_PAGE = 100_000


@dataclass(frozen=True)
class Position:
    """Where in a list of articles a page starts: older than ``before``, newer than ``after``
    (cursors from the page's own links), or the first page. ``?page=N`` from older links still
    works, as an offset."""

    before: str | None
    after: str | None
    offset: int
    size: int

    @property
    def first(self) -> bool:
        return not (self.before or self.after or self.offset)

    def args(self) -> dict[str, Any]:
        return {"limit": self.size, "offset": self.offset, "before": self.before, "after": self.after}


def requested_position() -> Position:
    """The position ``?before=``, ``?after=`` or ``?page=`` asks for (400 for a made-up cursor)."""
    cursors = {}
    for side in ("before", "after"):
        text = request.args.get(side) or None
        if text is not None:
            try:
                parse_cursor(side, text)
            except Invalid:
                abort(400, "That page link is not valid: go back to the list and follow its links.")
        cursors[side] = text
    if cursors["before"] and cursors["after"]:
        abort(400, "That page link is not valid: it asks for older and newer at once.")
    pager = requested_page()
    offset = 0 if cursors.get("before") or cursors.get("after") else pager.offset
    return Position(before=cursors.get("before"), after=cursors.get("after"), offset=offset,
                    size=pager.size)


def requested_page(size: int | None = None) -> Pager:
    """The page ``?page=N`` asks for, at ``size`` (default: the site's page size); ``counted``
    adds the total later."""
    page = request.args.get("page", 1, type=int) or 1
    page = min(max(page, 1), MAX_PAGE)  # a huge page is the last page, not an integer overflow
    size = size or current_app.config.get("SITE_PAGE_SIZE", DEFAULT_PAGE_SIZE)
    return Pager(page=page, size=size, total=0)


@dataclass(frozen=True)
class Pager:
    """Page links for a list of ``total`` items shown ``size`` at a time."""

    page: int
    size: int
    total: int

    def counted(self, total: int) -> Pager:
        return replace(self, total=total)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def pages(self) -> int:
        return max(math.ceil(self.total / self.size), 1)

    def window(self, around: int = 2) -> list[int | None]:
        """1 … 4 5 [6] 7 8 … 50: the first, the last and a few around the current page."""
        shown = sorted({1, self.pages, *range(self.page - around, self.page + around + 1)})
        result: list[int | None] = []
        last = 0
        for number in shown:
            if not 1 <= number <= self.pages:
                continue
            if last and number - last > 1:
                result.append(None)  # a gap, drawn as "…"
            result.append(number)
            last = number
        return result
