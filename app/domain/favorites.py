"""Favorites: a reader marks an article, or takes the mark back; idempotent, and the counters move
only when a row really changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import counters, live
from app.domain.article_lists import article_by
from app.domain.article_queries import ARTICLES, USERS
from app.domain.errors import NotFound
from app.domain.records import ArticleRecord
from app.domain.text import is_clean
from app.domain.transactions import insert_for, writing
from app.models import Article, Favorite


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
    article = await article_by(session, "slug", slug, user_id)
    if changed is not None:
        await live.favorites_changed(session, kind, user_id, article)
    return article
