"""The plain records the domain returns. Neither face sees an ORM instance or a database row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Account:
    """A signed-in user as they see themselves."""

    id: int
    username: str
    email: str
    bio: str | None
    image: str | None
    is_admin: bool
    created_at: datetime
    token_epoch: int = 0  # API tokens carry it; one issued under an older epoch is revoked
    kept_token: str | None = None  # unless it is this one: the token that changed the password


@dataclass(frozen=True, slots=True)
class Profile:
    """A user as someone else (the viewer) sees them."""

    username: str
    bio: str | None
    image: str | None
    following: bool


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    id: int
    slug: str
    title: str
    description: str
    body: str | None  # None in list and feed results, which never carry the body
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    favorited: bool
    favorites_count: int
    author: Profile
    comments_count: int = 0


@dataclass(frozen=True, slots=True)
class CommentRecord:
    id: int
    body: str
    created_at: datetime
    updated_at: datetime
    author: Profile


@dataclass(frozen=True, slots=True)
class CommentOnArticle:
    """A comment with the article it belongs to (the admin's list spans every article)."""

    id: int
    body: str
    created_at: datetime
    author: Profile
    article_slug: str
    article_title: str


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a longer list: ``items`` of ``total`` matching, from ``offset`` or a cursor.
    ``older`` and ``newer`` are the cursors of the pages on either side (app.domain.cursors),
    None where there is none (an offset page has only ``older``)."""

    items: list[T]
    total: int  # everything matching the filters, not the page size
    limit: int
    offset: int
    bounded: bool = False  # ``total`` is a floor: at least that many match (a combined filter)
    older: str | None = None
    newer: str | None = None
