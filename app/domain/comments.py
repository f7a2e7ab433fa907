"""Comments on articles: the thread under an article, adding one, deleting one."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Select, Table, bindparam, delete, false, literal, null, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import counters, live
from app.domain.errors import Forbidden, Invalid, NotFound
from app.domain.limits import BLANK, COMMENT_MAX, ID_MAX, too_long
from app.domain.records import CommentRecord, Profile
from app.domain.text import clean_text, is_clean
from app.domain.transactions import has_row, read, writing
from app.models import Article, Comment, Follow, User, utcnow

ARTICLES: Table = Article.__table__  # type: ignore[assignment]
COMMENTS: Table = Comment.__table__  # type: ignore[assignment]
USERS: Table = User.__table__  # type: ignore[assignment]
FOLLOWS: Table = Follow.__table__  # type: ignore[assignment]


@cache
def _thread(by: str, signed_in: bool) -> Select[Any]:
    """Comments with their authors, oldest first: a ``page`` (``:article_id``, ``:limit``,
    ``:offset``), all by ``:slug`` (with the article's id first, and one row of NULLs when it has
    no comment: an unknown slug gives no row), or one by its ``:id``."""
    c, u = COMMENTS, USERS
    following = has_row(FOLLOWS.c.follower_id == bindparam("viewer"),
                        FOLLOWS.c.followee_id == c.c.author_id) if signed_in else false()
    columns = [c.c.id, c.c.body, c.c.created_at, c.c.updated_at, u.c.username, u.c.bio, u.c.image,
               following.label("following")]
    if by == "slug":
        a = ARTICLES
        joined = a.outerjoin(c, c.c.article_id == a.c.id).outerjoin(u, u.c.id == c.c.author_id)
        return (select(a.c.id.label("article_id"), *columns).select_from(joined)
                .where(a.c.slug == bindparam("slug")).order_by(c.c.created_at, c.c.id))
    if by == "page":  # one page's keys first, from the (article_id, created_at, id) index alone
        keys = (select(c.c.id).where(c.c.article_id == bindparam("article_id"))
                .order_by(c.c.created_at, c.c.id).limit(bindparam("limit")).offset(bindparam("offset"))
                .subquery("page"))
        return (select(null().label("article_id"), *columns)
                .select_from(keys.join(c, c.c.id == keys.c.id).join(u, u.c.id == c.c.author_id))
                .order_by(c.c.created_at, c.c.id))
    return (select(null().label("article_id"), *columns).join_from(c, u, u.c.id == c.c.author_id)
            .where(c.c.id == bindparam("id")))


def _record(row: Any) -> CommentRecord:
    _article_id, id_, body, created_at, updated_at, username, bio, image, following = row
    return CommentRecord(id=id_, body=body, created_at=created_at, updated_at=updated_at,
                         author=Profile(username=username, bio=bio, image=image,
                                        following=bool(following)))


async def comments_on(session: AsyncSession, article_id: int, viewer_id: int | None = None, *,
                      limit: int, offset: int = 0) -> list[CommentRecord]:
    """One page of the thread under an article already found (the article page has its id and
    its ``comments_count``): ``limit`` comments from ``offset``, oldest first. It reads that page,
    walking only the index entries before it, however long the thread."""
    rows = await read(session, _thread("page", viewer_id is not None),
                      {"article_id": article_id, "viewer": viewer_id, "limit": limit, "offset": offset})
    return [_record(row) for row in rows]


async def list_comments(session: AsyncSession, slug: str, viewer_id: int | None = None
                        ) -> list[CommentRecord]:
    """The thread under the article at ``slug``, in one statement (NotFound if no such article)."""
    rows = await read(session, _thread("slug", viewer_id is not None),
                      {"slug": slug, "viewer": viewer_id}) if is_clean(slug) else []
    if not rows:
        raise NotFound("article")
    return [_record(row) for row in rows if row.id is not None]


async def add_comment(session: AsyncSession, author_id: int, slug: str, body: str | None
                      ) -> CommentRecord:
    if body is None or not body.strip():
        raise Invalid({"body": [BLANK]})
    if len(body) > COMMENT_MAX:
        raise Invalid({"body": [too_long(COMMENT_MAX)]})
    clean_text("body", body)
    if not is_clean(slug):
        raise NotFound("article")
    now = utcnow()
    async with writing(session):
        stamp = literal(now, COMMENTS.c.created_at.type)
        # FOR KEY SHARE: an article being deleted meanwhile is waited for, then not found (not a
        # foreign-key error at the insert).
        on_article = (select(literal(body), ARTICLES.c.id, literal(author_id), stamp, stamp)
                      .where(ARTICLES.c.slug == slug).with_for_update(read=True, key_share=True))
        added = (await session.execute(
            COMMENTS.insert().from_select(["body", "article_id", "author_id", "created_at", "updated_at"],
                                          on_article).returning(COMMENTS.c.id, COMMENTS.c.article_id))
                 ).first()
        if added is None:
            raise NotFound("article")
        await counted(session, added.article_id, 1)
        row = (await session.execute(_thread("id", False), {"id": added.id})).one()
        comment = _record(row)
        await live.comment_added(session, added.article_id, slug, comment)
    return comment


async def delete_comment(session: AsyncSession, slug: str, comment_id: int, user_id: int, *,
                         as_admin: bool = False) -> None:
    if not is_clean(slug):
        raise NotFound("article")
    a, c = ARTICLES, COMMENTS
    async with writing(session):
        # The article, and the comment's author if the comment is on it: NotFound says which is
        # missing. The article FOR KEY SHARE: its deletion meanwhile is waited for (see unfavorite).
        found = (await session.execute(
            select(a.c.id, c.c.author_id)
            .select_from(a.outerjoin(c, (c.c.article_id == a.c.id) & (c.c.id == min(comment_id, ID_MAX))))
            .where(a.c.slug == slug).with_for_update(read=True, key_share=True, of=a))).first()
        if found is None:
            raise NotFound("article")
        if found.author_id is None or not 0 < comment_id <= ID_MAX:
            raise NotFound("comment")
        if found.author_id != user_id and not as_admin:
            raise Forbidden("comment")
        # A concurrent delete may have taken it first: one event for the one that removed it.
        removed = await session.execute(delete(Comment).where(Comment.id == comment_id))
        if removed.rowcount:  # type: ignore[attr-defined]
            await counted(session, found.id, -1)
            await live.comment_deleted(session, found.id, slug, comment_id)


async def counted(session: AsyncSession, article_id: int, delta: int) -> None:
    """A comment was added (1) or removed (-1): the article's count and the site's move."""
    await counters.bump(session, ARTICLES, "comments_count", delta, ARTICLES.c.id == article_id)
    await counters.bump_site(session, "comments", delta)
