"""Reading articles: one by its slug or id, a page of a list (filtered by tag, author or favorite,
by offset or cursor), the feed of the authors a reader follows, and the tags in use.

A single article is one statement, a page of a list is one (plus a count only when a page past the
end comes back empty); the statements are in ``article_queries``. Reads run outside a transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import article_queries as q
from app.domain.cursors import Cursor, parse_cursor
from app.domain.errors import Invalid, NotFound
from app.domain.limits import (
    LIMIT_MAX,
    OFFSET_MAX,
)
from app.domain.records import ArticleRecord, Page
from app.domain.text import is_clean
from app.domain.transactions import dialect_of, read


def check_paging(limit: int, offset: int) -> None:
    if limit < 1 or limit > LIMIT_MAX:
        raise Invalid({"limit": [f"must be between 1 and {LIMIT_MAX}"]})
    if not 0 <= offset <= OFFSET_MAX:
        raise Invalid({"offset": [f"must be between 0 and {OFFSET_MAX}"]})


# Reads ----------------------------------------------------------------------------------------


async def article_by(session: AsyncSession, by: str, key: Any, viewer_id: int | None) -> ArticleRecord:
    stmt = q.one_article(dialect_of(session), by, viewer_id is not None)
    rows = await read(session, stmt, {by: key, "viewer": viewer_id})
    if not rows:
        raise NotFound("article")
    return q.article_record(rows[0])


async def get_article(session: AsyncSession, slug: str, viewer_id: int | None = None) -> ArticleRecord:
    if not is_clean(slug):
        raise NotFound("article")
    return await article_by(session, "slug", slug, viewer_id)


def _side(before: str | None, after: str | None) -> tuple[str, Cursor | None, Cursor | None]:
    """Which way a page goes from where: older than ``before``, newer than ``after``, between the
    two when both are given (newest first), or from the newest (by offset); the cursor, the floor.
    An offset with a cursor skips that many past the cursor."""
    if before is not None and after is not None:
        return q.BETWEEN, parse_cursor("before", before), parse_cursor("after", after)
    if before is not None:
        return q.OLDER, parse_cursor("before", before), None
    if after is not None:
        return q.NEWER, parse_cursor("after", after), None
    return q.FIRST, None, None


async def _rows(session: AsyncSession, names: tuple[str, ...], side: str, params: dict[str, Any],
                signed_in: bool) -> Sequence[Any]:
    dialect = dialect_of(session)
    if names != ("feed",) or params["offset"]:
        return await read(session, q.article_page(dialect, names, signed_in, side), params)
    # A feed's first page and its cursor pages: merged on read, in two steps (see feed_heads).
    heads = await read(session, q.feed_heads(dialect, side), params)
    if not heads:
        return []
    authors = {f"author_{n}": row.author_id for n, row in enumerate(heads)}
    return await read(session, q.feed_page(dialect, signed_in, side, len(heads)), {**params, **authors})


async def _skip_hours(session: AsyncSession, names: tuple[str, ...], side: str,
                      params: dict[str, Any]) -> str:
    """A deep offset into the list of every article starts at the hour that holds it (see
    ``hour_at_offset``): the page is then read as the one older than that hour's end, from the
    offset within it. The side to read; ``params`` are changed to match."""
    if names or side != q.FIRST or params["offset"] <= q.OFFSET_WALK:
        return side
    found = await read(session, q.hour_at_offset(dialect_of(session)), params)
    if not found:  # past the last article: a page older than any, without a walk to find that out
        params.update(cursor_at=datetime.min.replace(tzinfo=UTC), cursor_id=0, offset=0)
    else:
        hour, before = found[0]
        params.update(cursor_at=hour + timedelta(hours=1), cursor_id=0,
                      offset=params["offset"] - before)
    return q.OLDER


async def _page(session: AsyncSession, filters: dict[str, Any], viewer_id: int | None, limit: int,
                offset: int, before: str | None = None, after: str | None = None
                ) -> Page[ArticleRecord]:
    check_paging(limit, offset)
    side, cursor, floor = _side(before, after)
    names = tuple(name for name in q.FILTERS if name in filters)
    params = {**filters, "viewer": viewer_id, "limit": limit + 1, "offset": offset,
              "window": q.COUNT_BOUND + offset,
              "cursor_at": cursor.at if cursor else None, "cursor_id": cursor.id if cursor else None,
              "floor_at": floor.at if floor else None, "floor_id": floor.id if floor else None}
    rows = list(await _rows(session, names, await _skip_hours(session, names, side, params), params,
                            viewer_id is not None))
    more = len(rows) > limit  # the extra row: there is more on the far side
    if side == q.NEWER:
        if not more:  # this reaches the newest: that is the first page, and it is shown whole
            return await _page(session, filters, viewer_id, limit, 0)
        rows = rows[1:]
    else:
        rows = rows[:limit]
    if rows:
        total = rows[0].total
    elif side != q.FIRST or offset:  # past the end: no row carries the total
        total = (await read(session, q.article_total(names), params))[0][0]
    else:
        total = 0
    bounded = len(names) > 1 and total > q.COUNT_BOUND
    items = [q.article_record(row) for row in rows]
    older = str(Cursor(items[-1].created_at, items[-1].id)) if items and (more or side == q.NEWER) else None
    newer = str(Cursor(items[0].created_at, items[0].id)) if items and side != q.FIRST else None
    return Page(items=items, total=min(int(total), q.COUNT_BOUND) if bounded else int(total), limit=limit,
                offset=offset, bounded=bounded, older=older, newer=newer)


async def list_articles(
    session: AsyncSession,
    *,
    viewer_id: int | None = None,
    tag: str | None = None,
    author: str | None = None,
    favorited: str | None = None,
    limit: int = 20,
    offset: int = 0,
    before: str | None = None,
    after: str | None = None,
) -> Page[ArticleRecord]:
    """Most recent first, filtered by tag, author username and/or a user's favorites; from
    ``offset``, or older than the cursor ``before`` or newer than ``after`` (a page's links).

    An empty filter is no filter (front ends send ``?tag=``); one no row could match (a NUL, say)
    matches nothing without asking the database.
    """
    given = {name: value for name, value in (("tag", tag), ("author", author),
                                             ("favorited", favorited)) if value}
    if not all(is_clean(value) for value in given.values()):
        check_paging(limit, offset)
        _side(before, after)
        return Page(items=[], total=0, limit=limit, offset=offset)
    for name in ("author", "favorited"):  # usernames match whatever their case
        if name in given:
            given[name] = given[name].lower()
    return await _page(session, given, viewer_id, limit, offset, before, after)


async def feed(session: AsyncSession, viewer_id: int, *, limit: int = 20, offset: int = 0,
               before: str | None = None, after: str | None = None) -> Page[ArticleRecord]:
    """Articles by the authors the viewer follows, most recent first."""
    return await _page(session, {"feed": True}, viewer_id, limit, offset, before, after)


async def tags_in_use(session: AsyncSession, limit: int | None = None) -> list[str]:
    """Tags on at least one article, most used first (the popular-tags sidebar and /api/tags)."""
    return [name for name, in await read(session, q.tags_in_use(limit is not None), {"limit": limit})]


# Writes ---------------------------------------------------------------------------------------
