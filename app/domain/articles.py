"""Writing articles: create, update (a new title gives a new slug, the old one still answers) and
delete, with their tags and the counters they move. Writes run in ``writing``; reading is in
``article_lists``, favorites in ``favorites``.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import counters, live
from app.domain.article_lists import article_by
from app.domain.article_queries import ARTICLES, TAGS, USERS
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound, check_all
from app.domain.limits import (
    BLANK,
    BODY_MAX,
    DESCRIPTION_MAX,
    TAG_MAX,
    TAGS_PER_ARTICLE,
    TITLE_MAX,
    too_long,
)
from app.domain.records import ArticleRecord
from app.domain.renames import remember_old_slug
from app.domain.text import clean_text, is_clean
from app.domain.transactions import insert_ignore, writing
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
                created = await article_by(session, "id", article_id, author_id)
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
                return await article_by(session, "id", article_id, user_id)
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
