"""The read statements behind articles, lists, feeds and tags: built once, run with parameters.

An article is one row: author, favorite count, the viewer's flags and its tags (aggregated into one
value) come as columns of a single statement; a page of a list is one statement too (a window
count gives the total). Rows become records directly: no ORM entity is loaded for a read.

Each statement is built once per (backend, variant) and then reused with bound parameters, so a
request pays neither for building it nor for SQLAlchemy's compile step (the compiled form is cached
by the engine under the statement's key).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Dialect,
    Select,
    Table,
    bindparam,
    exists,
    false,
    func,
    null,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.types import TypeDecorator, Unicode

from app.domain.records import ArticleRecord, Profile
from app.models import Article, Favorite, Follow, Tag, User, article_tags

ARTICLES: Table = Article.__table__  # type: ignore[assignment]
USERS: Table = User.__table__  # type: ignore[assignment]
TAGS: Table = Tag.__table__  # type: ignore[assignment]
FAVORITES: Table = Favorite.__table__  # type: ignore[assignment]
FOLLOWS: Table = Follow.__table__  # type: ignore[assignment]
LINKS = article_tags
FILTERS = ("tag", "author", "favorited", "feed")


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
    favorites = select(func.count()).where(FAVORITES.c.article_id == a.c.id).scalar_subquery()
    if signed_in:
        favorited: ColumnElement[bool] = exists().where(
            FAVORITES.c.article_id == a.c.id, FAVORITES.c.user_id == viewer)
        following: ColumnElement[bool] = exists().where(
            FOLLOWS.c.follower_id == viewer, FOLLOWS.c.followee_id == a.c.author_id)
    else:
        favorited = following = false()
    return [a.c.id, a.c.slug, a.c.title, a.c.description, a.c.body if body else null(),
            a.c.created_at, a.c.updated_at, u.c.username, u.c.bio, u.c.image,
            favorites.label("favorites_count"), favorited.label("favorited"),
            following.label("following"), _tag_names(dialect).label("tags")]


@cache
def one_article(dialect: str, by: str, signed_in: bool) -> Select[Any]:
    """One article with its body, found by ``:slug`` or ``:id`` (``by``); ``:viewer`` if signed in."""
    key = ARTICLES.c.slug == bindparam("slug") if by == "slug" else ARTICLES.c.id == bindparam("id")
    return (select(*_columns(dialect, body=True, signed_in=signed_in))
            .join_from(ARTICLES, USERS, USERS.c.id == ARTICLES.c.author_id).where(key))


def _where(filters: tuple[str, ...]) -> list[ColumnElement[bool]]:
    a, u = ARTICLES, USERS
    where: list[ColumnElement[bool]] = []
    if "tag" in filters:
        where.append(a.c.id.in_(select(LINKS.c.article_id).join(TAGS, TAGS.c.id == LINKS.c.tag_id)
                                .where(TAGS.c.name == bindparam("tag"))))
    if "author" in filters:  # :author is lower-cased by the caller
        where.append(func.lower(u.c.username) == bindparam("author"))
    if "favorited" in filters:
        fan = USERS.alias("fan")
        where.append(a.c.id.in_(select(FAVORITES.c.article_id).join(fan, fan.c.id == FAVORITES.c.user_id)
                                .where(func.lower(fan.c.username) == bindparam("favorited"))))
    if "feed" in filters:
        where.append(a.c.author_id.in_(select(FOLLOWS.c.followee_id)
                                       .where(FOLLOWS.c.follower_id == bindparam("viewer"))))
    return where


@cache
def article_page(dialect: str, filters: tuple[str, ...], signed_in: bool) -> Select[Any]:
    """A page (``:limit``, ``:offset``), newest first, with the count of all matches as ``total``."""
    return (select(*_columns(dialect, body=False, signed_in=signed_in),
                   func.count().over().label("total"))
            .join_from(ARTICLES, USERS, USERS.c.id == ARTICLES.c.author_id).where(*_where(filters))
            .order_by(ARTICLES.c.created_at.desc(), ARTICLES.c.id.desc())
            .limit(bindparam("limit")).offset(bindparam("offset")))


@cache
def article_count(filters: tuple[str, ...]) -> Select[Any]:
    """How many match: needed only when a page past the end comes back empty."""
    return (select(func.count()).select_from(ARTICLES.join(USERS, USERS.c.id == ARTICLES.c.author_id))
            .where(*_where(filters)))


@cache
def tags_in_use(limited: bool) -> Select[Any]:
    """Tags on at least one article, most used first (``:limit`` of them when ``limited``)."""
    stmt = (select(TAGS.c.name).join(LINKS, LINKS.c.tag_id == TAGS.c.id)
            .group_by(TAGS.c.id, TAGS.c.name).order_by(func.count().desc(), TAGS.c.name))
    return stmt.limit(bindparam("limit")) if limited else stmt


def article_record(row: Any) -> ArticleRecord:
    (id_, slug, title, description, body, created_at, updated_at, username, bio, image,
     favorites_count, favorited, following, tags) = row[:14]
    return ArticleRecord(id=id_, slug=slug, title=title, description=description, body=body, tags=tags,
                         created_at=created_at, updated_at=updated_at, favorited=bool(favorited),
                         favorites_count=favorites_count,
                         author=Profile(username=username, bio=bio, image=image, following=bool(following)))
