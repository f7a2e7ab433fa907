"""The read statements behind articles, lists, feeds and tags: built once, run with parameters.

An article is one row: author, counters, the viewer's flags and its tags (aggregated into one
value) come as columns of a single statement. No read costs more as the tables grow:

- **A page of a list is one statement of two steps**: first the page's keys (id, created_at), read
  from an index whose order is the list's order — articles' (created_at, id) for everything,
  (author_id, created_at, id) for an author, the tag links' (tag_id, created_at, article_id) for a
  tag, favorites' (user_id, article_created_at, article_id) for a fan — from a cursor (one index
  descent) or an offset (a walk of that many index entries, never of the rows), ``limit + 1`` of
  them (the extra one says whether there is more); then the columns of those keys alone.
- **The total is a counter** (app.domain.counters), read in the same statement: the site's
  articles, a tag's, an author's, a fan's, and for a feed the sum of the followed authors' counts
  (as many look-ups as the reader follows). Filters combined (a tag *and* an author) have no
  index and no counter: they look through the newest ``COUNT_BOUND`` of their lead filter's
  articles (``_keys``), and their total is counted among those, then a floor ("10,000+").
- **A feed is merged on read** (see ``feed_heads``): no fan-out on write, so publishing costs the
  same with 10 followers or 100,000.

Each statement is built once per (backend, variant) and then reused with bound parameters, so a
request pays neither for building it nor for SQLAlchemy's compile step.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Dialect,
    FromClause,
    Select,
    Table,
    bindparam,
    false,
    func,
    literal,
    null,
    select,
    true,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.types import TypeDecorator, Unicode

from app.domain.records import ArticleRecord, Profile
from app.domain.transactions import has_row
from app.models import (
    Article,
    ArticleHour,
    Favorite,
    Follow,
    SiteCounter,
    Tag,
    User,
    UTCDateTime,
    article_tags,
)

ARTICLES: Table = Article.__table__  # type: ignore[assignment]
USERS: Table = User.__table__  # type: ignore[assignment]
TAGS: Table = Tag.__table__  # type: ignore[assignment]
FAVORITES: Table = Favorite.__table__  # type: ignore[assignment]
FOLLOWS: Table = Follow.__table__  # type: ignore[assignment]
SITE: Table = SiteCounter.__table__  # type: ignore[assignment]
HOURS: Table = ArticleHour.__table__  # type: ignore[assignment]
LINKS = article_tags
FILTERS = ("tag", "author", "favorited", "feed")
COUNT_BOUND = 10_000  # combined filters are counted this far, and no further
OFFSET_WALK = 5_000  # an offset past this into the list of every article skips hours
LEADS = ("author", "favorited", "tag")  # whose index a combination reads: the likely fewest first
# A page before a cursor, after one, between two (before one, newest first, and after the
# other: ``:floor_at``, ``:floor_id``), or by offset.
OLDER, NEWER, BETWEEN, FIRST = "older", "newer", "between", "first"


class TagNames(TypeDecorator[list[str]]):
    """An article's tag names as one column: an array on PostgreSQL, a JSON array on SQLite."""

    impl = Unicode
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> list[str]:
        if value is None:
            return []
        return json.loads(value) if isinstance(value, str) else list(value)


def _tag_names(dialect: str) -> ColumnElement[list[str]]:
    a = ARTICLES
    if dialect == "postgresql":
        names = select(func.array_agg(aggregate_order_by(TAGS.c.name, TAGS.c.name)))
    else:  # SQLite keeps the order of an ordered subquery in json_group_array
        ordered = (select(TAGS.c.name).join(LINKS, LINKS.c.tag_id == TAGS.c.id)
                   .where(LINKS.c.article_id == a.c.id).order_by(TAGS.c.name).correlate(a).subquery())
        return type_coerce(select(func.json_group_array(ordered.c.name)).scalar_subquery(), TagNames())
    stmt = names.join_from(LINKS, TAGS, LINKS.c.tag_id == TAGS.c.id).where(LINKS.c.article_id == a.c.id)
    return type_coerce(stmt.scalar_subquery(), TagNames())


def _columns(dialect: str, *, body: bool, signed_in: bool) -> list[ColumnElement[Any]]:
    a, u = ARTICLES, USERS
    viewer: ColumnElement[int] = bindparam("viewer")
    if signed_in:
        favorited = has_row(FAVORITES.c.article_id == a.c.id, FAVORITES.c.user_id == viewer)
        following = has_row(FOLLOWS.c.follower_id == viewer, FOLLOWS.c.followee_id == a.c.author_id)
    else:
        favorited = following = false()
    return [a.c.id, a.c.slug, a.c.title, a.c.description, a.c.body if body else null(),
            a.c.created_at, a.c.updated_at, u.c.username, u.c.bio, u.c.image,
            a.c.favorites_count, favorited.label("favorited"),
            following.label("following"), _tag_names(dialect).label("tags"), a.c.comments_count]


@cache
def one_article(dialect: str, by: str, signed_in: bool) -> Select[Any]:
    """One article with its body, found by ``:slug`` or ``:id`` (``by``); ``:viewer`` if signed in."""
    key = ARTICLES.c.slug == bindparam("slug") if by == "slug" else ARTICLES.c.id == bindparam("id")
    return (select(*_columns(dialect, body=True, signed_in=signed_in))
            .join_from(ARTICLES, USERS, USERS.c.id == ARTICLES.c.author_id).where(key))


def _user_id(name: str) -> ColumnElement[int]:
    """The id of the user named ``:name`` (lower-cased by the caller), whatever its case."""
    return select(USERS.c.id).where(func.lower(USERS.c.username) == bindparam(name)).scalar_subquery()


def _followed() -> Select[Any]:
    return select(FOLLOWS.c.followee_id).where(FOLLOWS.c.follower_id == bindparam("viewer"))


def _where(filters: tuple[str, ...], id_: ColumnElement[int]) -> list[ColumnElement[bool]]:
    """The tag and favorited filters as conditions on the article id ``id_`` (of a combination's
    candidates, see ``_source``)."""
    where: list[ColumnElement[bool]] = []
    if "tag" in filters:
        tag_id = select(TAGS.c.id).where(TAGS.c.name == bindparam("tag")).scalar_subquery()
        where.append(has_row(LINKS.c.article_id == id_, LINKS.c.tag_id == tag_id))
    if "favorited" in filters:
        where.append(has_row(FAVORITES.c.article_id == id_, FAVORITES.c.user_id == _user_id("favorited")))
    return where


def _source(filters: tuple[str, ...]) -> tuple[ColumnElement[int], ColumnElement[Any],
                                                list[ColumnElement[bool]]]:
    """Where a list's keys come from: (article id, its created_at, conditions), from the one
    index that carries the list's order. A combination reads that of its *lead* filter (see
    ``LEADS``); the others are then conditions on its candidates."""
    a = ARTICLES
    if filters == ("tag",):
        tag_id = select(TAGS.c.id).where(TAGS.c.name == bindparam("tag")).scalar_subquery()
        return LINKS.c.article_id, LINKS.c.created_at, [LINKS.c.tag_id == tag_id]
    if filters == ("favorited",):
        return (FAVORITES.c.article_id, FAVORITES.c.article_created_at,
                [FAVORITES.c.user_id == _user_id("favorited")])
    if filters == ("author",):
        return a.c.id, a.c.created_at, [a.c.author_id == _user_id("author")]
    if filters == ("feed",):
        return a.c.id, a.c.created_at, [a.c.author_id.in_(_followed())]
    return a.c.id, a.c.created_at, []


def _lead(filters: tuple[str, ...]) -> str:
    return next(name for name in LEADS if name in filters)


def _others(filters: tuple[str, ...]) -> tuple[str, ...]:
    """A combination's filters but its lead: conditions on the lead's candidates."""
    return tuple(name for name in filters if name != _lead(filters))


def _keys(filters: tuple[str, ...], side: str) -> Select[Any]:
    """The page's keys (id, at), nearest the cursor first, ``:limit`` of them (from ``:offset``).

    A combination of filters has no index of its own: its candidates are the newest
    ``COUNT_BOUND`` (plus ``:offset``) of its lead filter's articles past the cursor, and the page
    is those of them that pass the other filters. So a page never reads more than that many index
    entries however the filters overlap (not at all, at worst). The price: a match older than the
    newest 10,000 of the lead's articles past the cursor is found only when a page of matches
    leads there (a cursor from a full page); one behind 10,000 non-matching articles is not
    listed (a known limit: see docs/architecture.md, "Data at scale")."""
    combined = len(filters) > 1
    id_, at, where = _source((_lead(filters),) if combined else filters)
    keys = _ordered(select(id_.label("id"), at.label("at")).where(*where, *_beyond(at, id_, side)),
                    at, id_, side)
    if combined:
        window = keys.limit(bindparam("window")).subquery("candidates")
        keys = _ordered(select(window.c.id, window.c.at).where(*_where(_others(filters), window.c.id)),
                        window.c.at, window.c.id, side)
    return keys.limit(bindparam("limit")).offset(bindparam("offset"))


def _beyond(at: ColumnElement[Any], id_: ColumnElement[int], side: str) -> list[ColumnElement[bool]]:
    """Keys past the cursor (``:cursor_at``, ``:cursor_id``) on ``side`` (and the floor's)."""
    if side == FIRST:
        return []
    cursor = tuple_(bindparam("cursor_at", type_=UTCDateTime()), bindparam("cursor_id"))
    if side == BETWEEN:
        floor = tuple_(bindparam("floor_at", type_=UTCDateTime()), bindparam("floor_id"))
        return [tuple_(at, id_) < cursor, tuple_(at, id_) > floor]
    return [tuple_(at, id_) > cursor if side == NEWER else tuple_(at, id_) < cursor]


def _ordered(stmt: Select[Any], at: ColumnElement[Any], id_: ColumnElement[int], side: str) -> Select[Any]:
    """Nearest the cursor first: newest first, or oldest first for the newer side."""
    return stmt.order_by(at.asc(), id_.asc()) if side == NEWER else stmt.order_by(at.desc(), id_.desc())


def _total(filters: tuple[str, ...]) -> ColumnElement[int]:
    """The list's total, from counters (one row), or counted up to ``COUNT_BOUND + 1``."""
    u = USERS
    if not filters:
        found: Any = select(SITE.c.value).where(SITE.c.name == literal("articles"))
    elif filters == ("tag",):
        found = select(TAGS.c.articles_count).where(TAGS.c.name == bindparam("tag"))
    elif filters == ("author",):
        found = select(u.c.articles_count).where(func.lower(u.c.username) == bindparam("author"))
    elif filters == ("favorited",):
        found = select(u.c.favorites_count).where(func.lower(u.c.username) == bindparam("favorited"))
    elif filters == ("feed",):  # a primary-key look-up per followed author, never a scan of users
        count = (select(u.c.articles_count).where(u.c.id == FOLLOWS.c.followee_id)
                 .correlate(FOLLOWS).scalar_subquery())
        found = select(func.sum(count)).where(FOLLOWS.c.follower_id == bindparam("viewer"))
    else:  # among the newest COUNT_BOUND + 1 of the lead's (see _keys)
        id_, at, where = _source((_lead(filters),))
        window = (_ordered(select(id_.label("id")).where(*where), at, id_, OLDER)
                  .limit(COUNT_BOUND + 1).subquery("candidates"))
        found = select(func.count()).where(*_where(_others(filters), window.c.id)).select_from(window)
    return func.coalesce(found.scalar_subquery(), 0)


def _page(dialect: str, keys: FromClause, signed_in: bool, total: ColumnElement[int]) -> Select[Any]:
    """The columns of the articles ``keys`` names (id, at), newest first, each row with the total."""
    return (select(*_columns(dialect, body=False, signed_in=signed_in), total.label("total"))
            .select_from(keys.join(ARTICLES, ARTICLES.c.id == keys.c.id)
                         .join(USERS, USERS.c.id == ARTICLES.c.author_id))
            .order_by(keys.c.at.desc(), keys.c.id.desc()))


@cache
def article_page(dialect: str, filters: tuple[str, ...], signed_in: bool, side: str) -> Select[Any]:
    """A page of ``:limit`` keys past the cursor on ``side`` (or from ``:offset``), newest first,
    each row carrying the list's ``total``. Not for a feed's first or cursor pages (``feed_page``)."""
    return _page(dialect, _keys(filters, side).subquery("page"), signed_in, _total(filters))


@cache
def hour_at_offset(dialect: str) -> Select[Any]:
    """The hour holding the ``:offset``-th newest article (counting from 0), and how many newer
    articles there are before it: one pass over ``article_hours`` (a row per hour that has
    articles: 8,760 a year at most), in place of a walk of ``:offset`` index entries.

    A running sum, newest hour first, over the primary key's order (``ROWS``: no peers to look
    for). PostgreSQL takes the first hour past the offset with ORDER BY ... LIMIT 1. SQLite would
    sort every hour for that ORDER BY (2.2 ms at 836 hours), so there the outer query has none:
    SQLite yields a window's rows in its subquery's ORDER BY and stops at the first that passes
    (0.8 ms). The cost grows with the hours before the offset, not with the articles
    (tests/unit/test_counters.py checks every page against a walk)."""
    h = HOURS
    upto = func.sum(h.c.articles).over(order_by=h.c.hour.desc(), rows=(None, 0))
    running = select(h.c.hour, upto.label("upto"), h.c.articles)
    if dialect == "sqlite":
        running = running.order_by(h.c.hour.desc())
    hours = running.subquery()
    found = (select(hours.c.hour, (hours.c.upto - hours.c.articles).label("before"))
             .where(hours.c.upto > bindparam("offset")))
    return (found if dialect == "sqlite" else found.order_by(hours.c.hour.desc())).limit(1)


@cache
def article_total(filters: tuple[str, ...]) -> Select[Any]:
    """The total alone: for a page that came back empty, with no row to carry it."""
    return select(_total(filters))


@cache
def feed_heads(dialect: str, side: str) -> Select[Any]:
    """A feed's merge on read, step one: the ``:limit`` followed authors whose newest article past
    the cursor (their *head*) is newest, with one index descent per followed author.

    Why it is enough: an author contributes to the next ``limit`` articles only if their head is
    among them, so at most ``limit`` authors do, and they are the ones with the newest heads.
    Step two (``feed_page``) reads at most ``limit`` articles of each. The cost is O(followed +
    limit²), whatever the size of the tables, and a write costs nothing extra (no fan-out)."""
    a, f = ARTICLES, FOLLOWS
    if dialect == "postgresql":  # one descent per followed author, both columns at once
        head = _ordered(select(a.c.id, a.c.created_at).where(a.c.author_id == f.c.followee_id,
                                                             *_beyond(a.c.created_at, a.c.id, side)),
                        a.c.created_at, a.c.id, side).limit(1).lateral("head")
        return _ordered(select(f.c.followee_id.label("author_id")).select_from(f.join(head, true()))
                        .where(f.c.follower_id == bindparam("viewer")),
                        head.c.created_at, head.c.id, side).limit(bindparam("limit"))

    def newest(column: ColumnElement[Any]) -> Any:  # of the head: its id, its created_at
        return _ordered(select(column).where(a.c.author_id == f.c.followee_id,
                                             *_beyond(a.c.created_at, a.c.id, side)),
                        a.c.created_at, a.c.id, side).limit(1).correlate(f).scalar_subquery()

    # SQLite has no LATERAL: both from the same index entry, in two descents (no join to
    # articles, which PostgreSQL would plan as a hash of every article).
    heads = (select(f.c.followee_id.label("author_id"), newest(a.c.id).label("head"),
                    newest(a.c.created_at).label("at"))
             .where(f.c.follower_id == bindparam("viewer")).subquery("heads"))
    return _ordered(select(heads.c.author_id).where(heads.c.head.is_not(None)),
                    heads.c.at, heads.c.head, side).limit(bindparam("limit"))


@cache
def feed_page(dialect: str, signed_in: bool, side: str, authors: int) -> Select[Any]:
    """A feed's merge on read, step two: up to ``:limit`` articles past the cursor of each of the
    ``authors`` authors ``:author_0`` … (from ``feed_heads``), nearest first, as a page."""
    a = ARTICLES
    branches = []
    for n in range(authors):
        one = _ordered(select(a.c.id.label("id"), a.c.created_at.label("at"))
                       .where(a.c.author_id == bindparam(f"author_{n}"),
                              *_beyond(a.c.created_at, a.c.id, side)),
                       a.c.created_at, a.c.id, side).limit(bindparam("limit")).subquery(f"b{n}")
        branches.append(select(one.c.id, one.c.at))  # SQLite: LIMIT only inside a subquery
    merged: CompoundSelect[Any] | Select[Any] = union_all(*branches) if len(branches) > 1 else branches[0]
    keys = merged.subquery("merged")
    nearest = _ordered(select(keys.c.id, keys.c.at), keys.c.at, keys.c.id, side).limit(bindparam("limit"))
    return _page(dialect, nearest.subquery("page"), signed_in, _total(("feed",)))


@cache
def tags_in_use(limited: bool) -> Select[Any]:
    """Tags on at least one article, most used first (``:limit`` of them when ``limited``): the
    first entries of the counters' index, however many links there are."""
    stmt = (select(TAGS.c.name).where(TAGS.c.articles_count > 0)
            .order_by(TAGS.c.articles_count.desc(), TAGS.c.name))
    return stmt.limit(bindparam("limit")) if limited else stmt


def article_record(row: Any) -> ArticleRecord:
    (id_, slug, title, description, body, created_at, updated_at, username, bio, image,
     favorites_count, favorited, following, tags, comments_count) = row[:15]
    return ArticleRecord(id=id_, slug=slug, title=title, description=description, body=body, tags=tags,
                         created_at=created_at, updated_at=updated_at, favorited=bool(favorited),
                         favorites_count=favorites_count, comments_count=comments_count,
                         author=Profile(username=username, bio=bio, image=image, following=bool(following)))
