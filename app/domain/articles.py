"""Articles, tags, favorites, lists and feeds.

Every list is three queries whatever the page size: the page (with author, favorite count and the
viewer's flags as correlated subqueries), its tags, and the total count.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, exists, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, defer

from app.domain._sql import insert_ignore
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound, check_all
from app.domain.text import clean_text, is_clean
from app.domain.users import UNSET, _Unset, profile_of
from app.domain.views import ArticlePage, ArticleView
from app.models import Article, Favorite, Follow, Tag, User, article_tags, utcnow

TITLE_MAX, DESCRIPTION_MAX, BODY_MAX = 255, 1024, 100_000
TAG_MAX, TAGS_PER_ARTICLE = 64, 20
LIMIT_MAX = 100
OFFSET_MAX = 2**31 - 1
SLUG_ATTEMPTS = 3
# Slugs that would collide with fixed routes (GET /api/articles/feed is the feed, not an article).
RESERVED_SLUGS = frozenset({"feed"})


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80].strip("-")
    return slug or "article"


def _required(field: str, value: str | None, limit: int) -> str:
    if value is None or not value.strip():
        raise Invalid({field: ["can't be blank"]})
    if len(value) > limit:
        raise Invalid({field: [f"is too long (maximum is {limit} characters)"]})
    clean_text(field, value)
    return value.strip() if field != "body" else value


def clean_tags(tags: Sequence[str] | None) -> list[str]:
    if tags is None:
        raise Invalid({"tagList": ["must be a list of tags"]})
    # A dict (ordered, O(1) membership) and a stop at the first tag too many: a 1 MB list of
    # distinct tags costs 21 steps, not the quadratic minute a list's "in" would take.
    cleaned: dict[str, None] = {}
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise Invalid({"tagList": ["can't contain blank tags"]})
        tag = clean_text("tagList", tag.strip())
        if len(tag) > TAG_MAX:
            raise Invalid({"tagList": [f"tags are at most {TAG_MAX} characters"]})
        cleaned[tag] = None
        if len(cleaned) > TAGS_PER_ARTICLE:
            raise Invalid({"tagList": [f"at most {TAGS_PER_ARTICLE} tags"]})
    return list(cleaned)


def check_paging(limit: int, offset: int) -> None:
    if limit < 1 or limit > LIMIT_MAX:
        raise Invalid({"limit": [f"must be between 1 and {LIMIT_MAX}"]})
    if not 0 <= offset <= OFFSET_MAX:
        raise Invalid({"offset": [f"must be between 0 and {OFFSET_MAX}"]})


async def _tags_by_name(session: AsyncSession, names: list[str]) -> list[Tag]:
    for name in names:
        await insert_ignore(session, Tag, name=name)
    found = (await session.scalars(select(Tag).where(Tag.name.in_(names)))).all() if names else []
    by_name = {tag.name: tag for tag in found}
    return [by_name[name] for name in names]


async def _unique_slug(session: AsyncSession, title: str, *, except_id: int | None = None,
                       fresh: bool = False) -> str:
    """The title's slug, or it with a random suffix when taken (or when ``fresh`` after a race)."""
    base = slugify(title)
    clash = await session.scalar(select(Article.id).where(Article.slug == base))
    if not fresh and base not in RESERVED_SLUGS and (clash is None or clash == except_id):
        return base
    return f"{base}-{secrets.token_hex(4)}"


async def _commit_or_retry(session: AsyncSession) -> bool:
    """Commit; False (rolled back) when a concurrent writer took the same slug meanwhile."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


def _viewer_flags(viewer_id: int | None) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    if viewer_id is None:
        return false(), false()
    favorited = exists().where(Favorite.article_id == Article.id, Favorite.user_id == viewer_id)
    following = exists().where(
        Follow.follower_id == viewer_id, Follow.followee_id == Article.author_id
    )
    return favorited, following


def _article_query(viewer_id: int | None, with_body: bool) -> Select[Any]:
    favorites_count = (
        select(func.count()).where(Favorite.article_id == Article.id).scalar_subquery()
    )
    favorited, following = _viewer_flags(viewer_id)
    stmt = select(
        Article,
        User,
        favorites_count.label("favorites_count"),
        favorited.label("favorited"),
        following.label("following"),
    ).join(User, User.id == Article.author_id)
    return stmt if with_body else stmt.options(defer(Article.body))


async def _tags_for(session: AsyncSession, article_ids: list[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = defaultdict(list)
    if article_ids:
        rows = await session.execute(
            select(article_tags.c.article_id, Tag.name)
            .join(Tag, Tag.id == article_tags.c.tag_id)
            .where(article_tags.c.article_id.in_(article_ids))
            .order_by(Tag.name)
        )
        for article_id, name in rows:
            tags[article_id].append(name)
    return tags


def _view(row: Any, tags: list[str], with_body: bool) -> ArticleView:
    article: Article = row[0]
    author: User = row[1]
    return ArticleView(
        id=article.id,
        slug=article.slug,
        title=article.title,
        description=article.description,
        body=article.body if with_body else None,
        tags=tags,
        created_at=article.created_at,
        updated_at=article.updated_at,
        favorited=bool(row.favorited),
        favorites_count=int(row.favorites_count),
        author=profile_of(author, bool(row.following)),
    )


async def get_article(session: AsyncSession, slug: str, viewer_id: int | None = None) -> ArticleView:
    if not is_clean(slug):
        raise NotFound("article")
    row = (await session.execute(_article_query(viewer_id, True).where(Article.slug == slug))).first()
    if row is None:
        raise NotFound("article")
    tags = await _tags_for(session, [row[0].id])
    return _view(row, tags[row[0].id], with_body=True)


async def _page(session: AsyncSession, where: list[ColumnElement[bool]], viewer_id: int | None,
                limit: int, offset: int) -> ArticlePage:
    check_paging(limit, offset)
    stmt = (
        _article_query(viewer_id, with_body=False)
        .where(*where)
        .order_by(Article.created_at.desc(), Article.id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = (await session.execute(stmt)).all()
    total = await session.scalar(
        select(func.count(Article.id)).select_from(Article)
        .join(User, User.id == Article.author_id).where(*where)
    )
    tags = await _tags_for(session, [row[0].id for row in rows])
    articles = [_view(row, tags[row[0].id], with_body=False) for row in rows]
    return ArticlePage(articles=articles, total=int(total or 0), limit=limit, offset=offset)


async def list_articles(
    session: AsyncSession,
    *,
    viewer_id: int | None = None,
    tag: str | None = None,
    author: str | None = None,
    favorited: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> ArticlePage:
    """Most recent first, filtered by tag, author username and/or a user's favorites.

    An empty filter is no filter (front ends send ``?tag=``); one no row could match (a NUL, say)
    matches nothing without asking the database.
    """
    filters = [f for f in (tag, author, favorited) if f]
    if not all(is_clean(f) for f in filters):
        check_paging(limit, offset)
        return ArticlePage(articles=[], total=0, limit=limit, offset=offset)
    where: list[ColumnElement[bool]] = []
    if tag:
        where.append(Article.id.in_(
            select(article_tags.c.article_id).join(Tag, Tag.id == article_tags.c.tag_id)
            .where(Tag.name == tag)
        ))
    if author:
        where.append(func.lower(User.username) == author.lower())
    if favorited:
        fan = aliased(User)
        where.append(Article.id.in_(
            select(Favorite.article_id).join(fan, fan.id == Favorite.user_id)
            .where(func.lower(fan.username) == favorited.lower())
        ))
    return await _page(session, where, viewer_id, limit, offset)


async def feed(session: AsyncSession, viewer_id: int, *, limit: int = 20, offset: int = 0
               ) -> ArticlePage:
    """Articles by the authors the viewer follows, most recent first."""
    followed = select(Follow.followee_id).where(Follow.follower_id == viewer_id)
    return await _page(session, [Article.author_id.in_(followed)], viewer_id, limit, offset)


async def create_article(session: AsyncSession, author_id: int, *, title: str | None,
                         description: str | None, body: str | None,
                         tags: Sequence[str] | None = ()) -> ArticleView:
    title, description, body, tag_names = check_all(
        lambda: _required("title", title, TITLE_MAX),
        lambda: _required("description", description, DESCRIPTION_MAX),
        lambda: _required("body", body, BODY_MAX),
        lambda: clean_tags(tags))
    for attempt in range(SLUG_ATTEMPTS):
        now = utcnow()
        article = Article(slug=await _unique_slug(session, title, fresh=attempt > 0), title=title,
                          description=description, body=body, author_id=author_id,
                          created_at=now, updated_at=now)
        article.tags = await _tags_by_name(session, tag_names)
        session.add(article)
        view = await get_article(session, article.slug, author_id)  # flushes
        if await _commit_or_retry(session):
            return view
    raise Conflict("slug")


async def _owned_article(session: AsyncSession, slug: str, user_id: int, *,
                         as_admin: bool = False) -> Article:
    article = await session.scalar(select(Article).where(Article.slug == slug)) \
        if is_clean(slug) else None
    if article is None:
        raise NotFound("article")
    if article.author_id != user_id and not as_admin:
        raise Forbidden("article")
    return article


async def update_article(
    session: AsyncSession,
    slug: str,
    user_id: int,
    *,
    title: str | _Unset | None = UNSET,
    description: str | _Unset | None = UNSET,
    body: str | _Unset | None = UNSET,
    tags: Sequence[str] | _Unset | None = UNSET,
) -> ArticleView:
    """Partial update by the author. A new title gives a new slug; tags=[] removes all tags."""
    new_title = UNSET if title is UNSET else _required("title", title, TITLE_MAX)
    new_description = (UNSET if description is UNSET
                       else _required("description", description, DESCRIPTION_MAX))
    new_body = UNSET if body is UNSET else _required("body", body, BODY_MAX)
    new_tags = UNSET if tags is UNSET else clean_tags(tags)
    for attempt in range(SLUG_ATTEMPTS):
        article = await _owned_article(session, slug, user_id)
        if new_title is not UNSET and new_title != article.title:
            article.slug = await _unique_slug(session, new_title, except_id=article.id,
                                              fresh=attempt > 0)
            article.title = new_title
        if new_description is not UNSET:
            article.description = new_description
        if new_body is not UNSET:
            article.body = new_body
        if new_tags is not UNSET:
            await session.execute(
                delete(article_tags).where(article_tags.c.article_id == article.id))
            for tag in await _tags_by_name(session, new_tags):
                await insert_ignore(session, article_tags, article_id=article.id, tag_id=tag.id)
        article.updated_at = utcnow()
        view = await get_article(session, article.slug, user_id)  # flushes
        if await _commit_or_retry(session):
            return view
    raise Conflict("slug")


async def delete_article(session: AsyncSession, slug: str, user_id: int, *,
                         as_admin: bool = False) -> None:
    article = await _owned_article(session, slug, user_id, as_admin=as_admin)
    # Comments, favorites and tag links go with it (ON DELETE CASCADE).
    await session.execute(delete(Article).where(Article.id == article.id))
    await session.commit()


async def _article_id(session: AsyncSession, slug: str) -> int:
    if not is_clean(slug):
        raise NotFound("article")
    article_id = await session.scalar(select(Article.id).where(Article.slug == slug))
    if article_id is None:
        raise NotFound("article")
    return article_id


async def favorite(session: AsyncSession, user_id: int, slug: str) -> ArticleView:
    """Idempotent and atomic: the count is derived from rows, so concurrent fans lose nothing."""
    article_id = await _article_id(session, slug)
    await insert_ignore(session, Favorite,
                        user_id=user_id, article_id=article_id)
    view = await get_article(session, slug, user_id)
    await session.commit()
    return view


async def unfavorite(session: AsyncSession, user_id: int, slug: str) -> ArticleView:
    article_id = await _article_id(session, slug)
    await session.execute(
        delete(Favorite).where(Favorite.user_id == user_id, Favorite.article_id == article_id)
    )
    view = await get_article(session, slug, user_id)
    await session.commit()
    return view


async def tags_in_use(session: AsyncSession, limit: int | None = None) -> list[str]:
    """Tags on at least one article, most used first (the popular-tags sidebar and /api/tags)."""
    uses = func.count(article_tags.c.article_id)
    stmt = (
        select(Tag.name).join(article_tags, article_tags.c.tag_id == Tag.id)
        .group_by(Tag.id, Tag.name).order_by(uses.desc(), Tag.name).limit(limit)
    )
    return list((await session.scalars(stmt)).all())

