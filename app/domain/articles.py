"""Articles, tags, favorites, lists and feeds.

A single article is one statement, a page of a list is one (plus a count only when a page past the
end comes back empty); the statements are in ``article_queries``. Writes run in ``writing``.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import article_queries as q
from app.domain import counters, live
from app.domain.article_queries import ARTICLES, TAGS, USERS
from app.domain.cursors import Cursor, parse_cursor
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound, check_all
from app.domain.limits import (
    BLANK,
    BODY_MAX,
    DESCRIPTION_MAX,
    LIMIT_MAX,
    OFFSET_MAX,
    TAG_MAX,
    TAGS_PER_ARTICLE,
    TITLE_MAX,
    too_long,
)
from app.domain.records import ArticleRecord, Page
from app.domain.renames import remember_old_slug
from app.domain.text import clean_text, is_clean
from app.domain.transactions import dialect_of, insert_for, insert_ignore, read, writing
from app.domain.users import UNSET, _Unset
from app.models import Article, Favorite, Tag, article_tags, utcnow

SLUG_ATTEMPTS = 3
# Slugs that would collide with fixed routes (GET /api/articles/feed is the feed, not an article).
RESERVED_SLUGS = frozenset({"feed"})


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80].strip("-")
    return slug or "article"


def _required(field: str, value: str | None, limit: int) -> str:
    if value is None or not value.strip():
        raise Invalid({field: [BLANK]})
    if len(value) > limit:
        raise Invalid({field: [too_long(limit)]})
    clean_text(field, value)
    return value.strip() if field != "body" else value


def clean_tags(tags: Sequence[str] | None) -> list[str]:
    if tags is None:
        raise Invalid({"tagList": ["must be a list of tags"]})
    if len(tags) > TAGS_PER_ARTICLE:  # as given: what the API documents (maxItems)
        raise Invalid({"tagList": [f"at most {TAGS_PER_ARTICLE} tags"]})
    cleaned: dict[str, None] = {}  # ordered, O(1) membership: the same tag twice is kept once
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise Invalid({"tagList": ["can't contain blank tags"]})
        tag = clean_text("tagList", tag.strip())
        if len(tag) > TAG_MAX:
            raise Invalid({"tagList": [f"tags are at most {TAG_MAX} characters"]})
        cleaned[tag] = None
    return list(cleaned)


def check_paging(limit: int, offset: int) -> None:
    if limit < 1 or limit > LIMIT_MAX:
        raise Invalid({"limit": [f"must be between 1 and {LIMIT_MAX}"]})
    if not 0 <= offset <= OFFSET_MAX:
        raise Invalid({"offset": [f"must be between 0 and {OFFSET_MAX}"]})


# Reads ----------------------------------------------------------------------------------------


async def _one(session: AsyncSession, by: str, key: Any, viewer_id: int | None) -> ArticleRecord:
    stmt = q.one_article(dialect_of(session), by, viewer_id is not None)
    rows = await read(session, stmt, {by: key, "viewer": viewer_id})
    if not rows:
        raise NotFound("article")
    return q.article_record(rows[0])


async def get_article(session: AsyncSession, slug: str, viewer_id: int | None = None) -> ArticleRecord:
    if not is_clean(slug):
        raise NotFound("article")
    return await _one(session, "slug", slug, viewer_id)


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


async def _tag_ids(session: AsyncSession, names: list[str]) -> list[int]:
    # In one order for every writer: two articles tagged [a, b] and [b, a] at once must not
    # deadlock on PostgreSQL, each holding the tag row the other waits for.
    for name in sorted(names):
        await insert_ignore(session, Tag, name=name)
    if not names:
        return []
    rows = await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names)))
    found = {name: tag_id for name, tag_id in rows}
    return [found[name] for name in names]


async def _set_tags(session: AsyncSession, article_id: int, created_at: datetime, names: list[str],
                    *, new: bool = False) -> None:
    """The article's tags become ``names``; the tags' counters move by what changed."""
    old: set[int] = set() if new else {
        tag_id for tag_id, in await session.execute(
            select(article_tags.c.tag_id).where(article_tags.c.article_id == article_id))}
    wanted = set(await _tag_ids(session, names))
    # The counters first: their row locks before the links' foreign-key checks lock the same
    # tags (key share), which two writers of one tag would otherwise each hold, then wait on.
    await counters.bump_rows(session, TAGS, "articles_count",
                             {**dict.fromkeys(old - wanted, -1), **dict.fromkeys(wanted - old, 1)})
    if old - wanted:
        await session.execute(delete(article_tags).where(article_tags.c.article_id == article_id,
                                                         article_tags.c.tag_id.in_(old - wanted)))
    for tag_id in sorted(wanted - old):
        await session.execute(article_tags.insert().values(article_id=article_id, tag_id=tag_id,
                                                           created_at=created_at))


async def _unique_slug(session: AsyncSession, title: str, *, except_id: int | None = None,
                       fresh: bool = False) -> str:
    """The title's slug, or it with a random suffix when taken (or when ``fresh`` after a race)."""
    base = slugify(title)
    clash = await session.scalar(select(Article.id).where(Article.slug == base))
    if not fresh and base not in RESERVED_SLUGS and (clash is None or clash == except_id):
        return base
    return f"{base}-{secrets.token_hex(4)}"


def _slug_taken(error: IntegrityError) -> bool:
    """A concurrent writer took the same slug (the unique constraint, on either backend)."""
    text = str(error.orig)
    return "uq_articles_slug" in text or "articles.slug" in text


async def create_article(session: AsyncSession, author_id: int, *, title: str | None,
                         description: str | None, body: str | None,
                         tags: Sequence[str] | None = ()) -> ArticleRecord:
    title, description, body, tag_names = check_all(
        lambda: _required("title", title, TITLE_MAX),
        lambda: _required("description", description, DESCRIPTION_MAX),
        lambda: _required("body", body, BODY_MAX),
        lambda: clean_tags(tags))
    for attempt in range(SLUG_ATTEMPTS):
        try:
            async with writing(session):
                now = utcnow()
                slug = await _unique_slug(session, title, fresh=attempt > 0)
                article_id = await session.scalar(
                    ARTICLES.insert().returning(ARTICLES.c.id),
                    {"slug": slug, "title": title, "description": description, "body": body,
                     "author_id": author_id, "created_at": now, "updated_at": now})
                assert article_id is not None
                await counters.bump(session, USERS, "articles_count", 1, USERS.c.id == author_id)
                await _set_tags(session, article_id, now, tag_names, new=True)
                await counters.bump_site(session, "articles", 1)
                await counters.bump_hour(session, now, 1)
                created = await _one(session, "id", article_id, author_id)
                await live.article_published(session, author_id, created)
                return created
        except IntegrityError as error:  # a concurrent writer took the slug: try a fresh one
            if not _slug_taken(error):
                raise
    raise Conflict("slug")


async def _owned_article(session: AsyncSession, slug: str, user_id: int, *,
                         as_admin: bool = False, deleting: bool = False) -> Any:
    """The article at ``slug`` (id, author_id, title, created_at, comments_count), locked for
    this write transaction, if ``user_id`` may change it: FOR UPDATE to delete it (new
    favorites and comments wait), else FOR NO KEY UPDATE (they do not)."""
    row = (await session.execute(
        select(Article.id, Article.author_id, Article.title, Article.created_at, Article.comments_count)
        .where(Article.slug == slug).with_for_update(key_share=not deleting))).first() \
        if is_clean(slug) else None
    if row is None:
        raise NotFound("article")
    if row.author_id != user_id and not as_admin:
        raise Forbidden("article")
    return row


async def update_article(
    session: AsyncSession,
    slug: str,
    user_id: int,
    *,
    title: str | _Unset | None = UNSET,
    description: str | _Unset | None = UNSET,
    body: str | _Unset | None = UNSET,
    tags: Sequence[str] | _Unset | None = UNSET,
) -> ArticleRecord:
    """Partial update by the author. A new title gives a new slug; tags=[] removes all tags."""
    changes: dict[str, Any] = {}
    for field, value, limit in (("title", title, TITLE_MAX), ("description", description, DESCRIPTION_MAX),
                                ("body", body, BODY_MAX)):
        if value is not UNSET:
            changes[field] = _required(field, value, limit)
    new_tags = UNSET if tags is UNSET else clean_tags(tags)
    for attempt in range(SLUG_ATTEMPTS):
        try:
            async with writing(session):
                owned = await _owned_article(session, slug, user_id)
                article_id, old_title = owned.id, owned.title
                values = {**changes, "updated_at": utcnow()}
                if "title" in changes and changes["title"] != old_title:
                    values["slug"] = await _unique_slug(session, changes["title"], except_id=article_id,
                                                        fresh=attempt > 0)
                    if values["slug"] != slug:
                        await remember_old_slug(session, article_id, slug)
                await session.execute(ARTICLES.update().where(ARTICLES.c.id == article_id)
                                      .values(**values))
                if new_tags is not UNSET:
                    await _set_tags(session, article_id, owned.created_at, new_tags)
                return await _one(session, "id", article_id, user_id)
        except IntegrityError as error:
            if not _slug_taken(error):
                raise
    raise Conflict("slug")


async def delete_article(session: AsyncSession, slug: str, user_id: int, *,
                         as_admin: bool = False) -> None:
    async with writing(session):
        owned = await _owned_article(session, slug, user_id, as_admin=as_admin, deleting=True)
        # Comments, favorites and tag links go with it (ON DELETE CASCADE); the counters they
        # moved move back: O(the article's favorites), as its deletion is anyway. Row locks in
        # the one order (the article, users by id, tags by id, the site's rows last, after the
        # tables they count were written: see counters.lock_rows and recount).
        fans = [fan for fan, in await session.execute(
            select(Favorite.user_id).where(Favorite.article_id == owned.id))]
        await counters.lock_rows(session, USERS, [*fans, owned.author_id])
        await counters.bump_rows(session, USERS, "favorites_count", dict.fromkeys(fans, -1))
        await counters.bump(session, USERS, "articles_count", -1, USERS.c.id == owned.author_id)
        tags = [tag for tag, in await session.execute(
            select(article_tags.c.tag_id).where(article_tags.c.article_id == owned.id))]
        await counters.bump_rows(session, TAGS, "articles_count", dict.fromkeys(tags, -1))
        await session.execute(delete(Article).where(Article.id == owned.id))
        await counters.bump_site(session, "articles", -1)
        await counters.bump_site(session, "comments", -owned.comments_count)
        await counters.bump_hour(session, owned.created_at, -1)


async def favorite(session: AsyncSession, user_id: int, slug: str) -> ArticleRecord:
    """Idempotent and atomic: the counters move only when a row was really added (or removed),
    by atomic SQL, so concurrent fans lose nothing and a repeated favorite counts once."""
    if not is_clean(slug):
        raise NotFound("article")
    async with writing(session):
        fan = (select(literal(user_id), Article.id, Article.created_at).where(Article.slug == slug)
               .with_for_update(read=True, key_share=True))  # as for a comment: see add_comment
        added = (await session.execute(insert_for(session, Favorite).from_select(
            ["user_id", "article_id", "article_created_at"], fan).on_conflict_do_nothing()
            .returning(Favorite.article_id))).first()
        return await _favorites_changed(session, "article.favorited", added, 1, user_id, slug)


async def unfavorite(session: AsyncSession, user_id: int, slug: str) -> ArticleRecord:
    if not is_clean(slug):
        raise NotFound("article")
    async with writing(session):
        # The article first, FOR KEY SHARE: a deletion of it meanwhile is waited for (it would
        # wait for this favorite's row in turn, while this waited to move its counter: a circle).
        article_id = await session.scalar(select(Article.id).where(Article.slug == slug)
                                          .with_for_update(read=True, key_share=True))
        removed = None if article_id is None else (await session.execute(delete(Favorite).where(
            Favorite.user_id == user_id, Favorite.article_id == article_id)
            .returning(Favorite.article_id))).first()
        return await _favorites_changed(session, "article.unfavorited", removed, -1, user_id, slug)


async def _favorites_changed(session: AsyncSession, kind: str, changed: Any, delta: int, user_id: int,
                             slug: str) -> ArticleRecord:
    """The article as the fan now sees it. When the fan's mark really changed (``changed`` is the
    row added or removed), the counters move (the article's row first, then the fan's: the one
    order of row locks) and a live event is written (the count is read in the event's turn, so
    it counts every earlier event's change)."""
    if changed is not None:
        await counters.bump(session, ARTICLES, "favorites_count", delta, ARTICLES.c.id == changed[0])
        await counters.bump(session, USERS, "favorites_count", delta, USERS.c.id == user_id)
        await live.take_turn(session)
    article = await _one(session, "slug", slug, user_id)
    if changed is not None:
        await live.favorites_changed(session, kind, user_id, article)
    return article
