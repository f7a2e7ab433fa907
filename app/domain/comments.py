"""Comments on articles."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.articles import _article_id
from app.domain.errors import Forbidden, Invalid, NotFound
from app.domain.text import clean_text
from app.domain.users import profile_of
from app.domain.views import CommentView
from app.models import Comment, Follow, User, utcnow

COMMENT_MAX = 10_000


async def add_comment(session: AsyncSession, author_id: int, slug: str, body: str | None
                      ) -> CommentView:
    if body is None or not body.strip():
        raise Invalid({"body": ["can't be blank"]})
    if len(body) > COMMENT_MAX:
        raise Invalid({"body": [f"is too long (maximum is {COMMENT_MAX} characters)"]})
    clean_text("body", body)
    article_id = await _article_id(session, slug)
    now = utcnow()
    comment = Comment(body=body, article_id=article_id, author_id=author_id,
                      created_at=now, updated_at=now)
    session.add(comment)
    author = await session.get(User, author_id)
    if author is None:
        raise NotFound("user")
    await session.flush()
    view = CommentView(id=comment.id, body=comment.body, created_at=comment.created_at,
                       updated_at=comment.updated_at, author=profile_of(author, False))
    await session.commit()
    return view


async def list_comments(session: AsyncSession, slug: str, viewer_id: int | None = None
                        ) -> list[CommentView]:
    """Oldest first, in one query (author and the viewer's follow flag joined in)."""
    article_id = await _article_id(session, slug)
    following = (
        select(Follow.follower_id)
        .where(Follow.follower_id == viewer_id, Follow.followee_id == Comment.author_id)
        .exists()
    )
    rows = await session.execute(
        select(Comment, User, following.label("following"))
        .join(User, User.id == Comment.author_id)
        .where(Comment.article_id == article_id)
        .order_by(Comment.created_at, Comment.id)
    )
    return [
        CommentView(id=c.id, body=c.body, created_at=c.created_at, updated_at=c.updated_at,
                    author=profile_of(u, viewer_id is not None and bool(f)))
        for c, u, f in rows
    ]


async def delete_comment(session: AsyncSession, slug: str, comment_id: int, user_id: int, *,
                         as_admin: bool = False) -> None:
    article_id = await _article_id(session, slug)
    if not 0 < comment_id <= 2**31 - 1:
        raise NotFound("comment")
    comment = await session.scalar(
        select(Comment).where(Comment.id == comment_id, Comment.article_id == article_id)
    )
    if comment is None:
        raise NotFound("comment")
    if comment.author_id != user_id and not as_admin:
        raise Forbidden("comment")
    await session.execute(delete(Comment).where(Comment.id == comment_id))
    await session.commit()

