"""Typed SQLAlchemy 2 models. Every timestamp is UTC with microseconds, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out. SQLite stores naive text, so the zone is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# ``created_at`` is the article's, copied in when the link is written (an article's creation time
# never changes): a tag's newest articles are one walk of (tag_id, created_at, article_id), however
# many articles carry the tag.
article_tags = Table(
    "article_tags",
    Base.metadata,
    Column("article_id", ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime),
    Index("ix_article_tags_tag_id_created_at", "tag_id", "created_at", "article_id"),
)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    # Stored lower-cased by the domain layer, so the plain unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    bio: Mapped[str | None] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(String(1024))
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Every API token carries it; a password change or "sign out everywhere" moves it on, and
    # every token issued before is refused from then on.
    token_epoch: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # The token that changed the password (a fingerprint: app.api.tokens.fingerprint), which its
    # own change does not revoke; every other token of an older epoch is.
    kept_token: Mapped[str | None] = mapped_column(String(64))
    # Counters kept in the transaction that moves them (app.domain.counters): the articles they
    # wrote, the articles they favorite.
    articles_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    favorites_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<User {self.username!r}>"


class SiteSession(Base):
    """A signed-in browser: the session cookie names one by its random id. Signing out deletes
    it, so a copy of the cookie taken before is worth nothing after."""

    __tablename__ = "site_sessions"
    __table_args__ = (Index("ix_site_sessions_user_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Usernames are case-preserving but unique regardless of case ("Alice" vs "alice").
Index("uq_users_username_lower", func.lower(User.username), unique=True)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    articles_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))


# Popular tags are the first N of this index: O(N), however many links there are.
Index("ix_tags_articles_count", Tag.articles_count.desc(), Tag.name)


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_created_at_id", "created_at", "id"),
        Index("ix_articles_author_id_created_at_id", "author_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(255), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1024))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    favorites_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    comments_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))

    author: Mapped[User] = relationship(lazy="raise")
    tags: Mapped[list[Tag]] = relationship(
        secondary=article_tags, lazy="raise", order_by=Tag.name, passive_deletes=True
    )


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        Index("ix_comments_article_id_created_at_id", "article_id", "created_at", "id"),
        Index("ix_comments_created_at_id", "created_at", "id"),  # the admin's newest comments
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship(lazy="raise")
    article: Mapped[Article] = relationship(lazy="raise")


class Follow(Base):
    __tablename__ = "follows"
    __table_args__ = (
        CheckConstraint("follower_id <> followee_id", name="no_self_follow"),
        Index("ix_follows_followee_id", "followee_id"),
    )

    follower_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    followee_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Favorite(Base):
    __tablename__ = "favorites"
    __table_args__ = (
        Index("ix_favorites_article_id", "article_id"),
        Index("ix_favorites_user_id_article_created_at", "user_id", "article_created_at", "article_id"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The article's creation time, copied in: a fan's favorites newest article first, by one walk.
    article_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SiteCounter(Base):
    """A site-wide total kept in the transaction that moves it: ``articles``, ``comments``,
    ``users``. Counting the table instead would be O(table) on every page."""

    __tablename__ = "site_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ArticleHour(Base):
    """How many articles were created in each hour (UTC, the hour's start): a deep offset into
    the list of every article skips whole hours by these counts, then walks inside one hour,
    instead of walking every article before it. Kept with the site's counters."""

    __tablename__ = "article_hours"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    articles: Mapped[int] = mapped_column(Integer, default=0)


class RateLimitCounter(Base):
    """One fixed-window counter of app.infra.rate_limiter (when no Redis is configured): hits so far and when
    the window ends, in epoch seconds. Every worker counts in the same row."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float)


class SlugRedirect(Base):
    """A slug an article had before a rename: links to it keep working (301 to the new one)."""

    __tablename__ = "slug_redirects"
    __table_args__ = (Index("ix_slug_redirects_article_id", "article_id"),)

    old_slug: Mapped[str] = mapped_column(String(255), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))


class LiveEvent(Base):
    """One change live subscribers are told about (app/live): written in the transaction that made
    the change, so there is an event for every committed change and none for a rolled-back one.
    ``seq`` numbers events in commit order (app.domain.live); old rows are pruned, keeping a window
    that reconnecting clients can catch up from. ``payload`` is the event's JSON."""

    __tablename__ = "live_events"
    # AUTOINCREMENT: SQLite never hands out a number again once its row is pruned.
    __table_args__ = {"sqlite_autoincrement": True}

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    article_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: it outlives a deletion
    author_id: Mapped[int | None] = mapped_column(Integer)  # the article's author, for feeds
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


ALL_TABLES: tuple[Any, ...] = (
    SiteCounter.__table__,
    ArticleHour.__table__,
    LiveEvent.__table__,
    SlugRedirect.__table__,
    RateLimitCounter.__table__,
    SiteSession.__table__,
    article_tags,
    Favorite.__table__,
    Comment.__table__,
    Follow.__table__,
    Article.__table__,
    Tag.__table__,
    User.__table__,
)
