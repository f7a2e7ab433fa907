"""Plain objects the domain returns. Neither face sees an ORM instance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Account:
    """A signed-in user as they see themselves."""

    id: int
    username: str
    email: str
    bio: str | None
    image: str | None
    is_admin: bool
    created_at: datetime


@dataclass(frozen=True)
class Profile:
    """A user as someone else (the viewer) sees them."""

    username: str
    bio: str | None
    image: str | None
    following: bool


@dataclass(frozen=True)
class ArticleView:
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


@dataclass(frozen=True)
class ArticlePage:
    articles: list[ArticleView]
    total: int  # everything matching the filters, not the page size
    limit: int
    offset: int


@dataclass(frozen=True)
class CommentView:
    id: int
    body: str
    created_at: datetime
    updated_at: datetime
    author: Profile
