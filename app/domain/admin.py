"""What the admin area needs beyond the shared operations: users (paginated, searchable), the most
recent comments across all articles, and deleting a comment by id.

Granting and revoking admin is ``users.set_admin``; deleting any article is
``articles.delete_article(..., as_admin=True)``.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.article_lists import check_paging
from app.domain.article_queries import COUNT_BOUND
from app.domain.comments import counted
from app.domain.counters import site_total
from app.domain.errors import NotFound
from app.domain.records import Account, CommentOnArticle, Page, Profile
from app.domain.sessions import ACCOUNT_COLUMNS
from app.domain.text import is_clean
from app.domain.transactions import writing
from app.models import Article, Comment, User


def _user_search(query: str | None) -> list[ColumnElement[bool]]:
    if query is None or not query.strip():
        return []
    needle = query.strip().lower()
    if not is_clean(needle):
        return [false()]  # nothing can match a NUL; and it must not reach the database
    # autoescape: a "%" or "_" typed in the search box matches itself, not "anything".
    return [or_(func.lower(User.username).contains(needle, autoescape=True),
                User.email.contains(needle, autoescape=True))]


async def list_users(session: AsyncSession, *, query: str | None = None, limit: int = 20,
                     offset: int = 0) -> Page[Account]:
    """Users by username (case-insensitive), optionally those whose username or e-mail contains
    ``query``. Two queries whatever the page size."""
    check_paging(limit, offset)
    where = _user_search(query)
    rows = await session.execute(
        select(*ACCOUNT_COLUMNS).where(*where).order_by(func.lower(User.username), User.id)
        .limit(limit).offset(offset)
    )
    if where:  # a search: counted up to a bound (a substring match scans the users anyway)
        some = select(User.id).where(*where).limit(COUNT_BOUND + 1).subquery()
        total = int(await session.scalar(select(func.count()).select_from(some)) or 0)
    else:
        total = await site_total(session, "users")
    return Page(items=[Account(*row) for row in rows], total=min(total, COUNT_BOUND), limit=limit,
                offset=offset, bounded=total > COUNT_BOUND)


async def recent_comments(session: AsyncSession, *, limit: int = 20, offset: int = 0
                          ) -> Page[CommentOnArticle]:
    """Every article's comments, newest first, with author and article joined in (two queries)."""
    check_paging(limit, offset)
    rows = await session.execute(
        select(Comment.id, Comment.body, Comment.created_at, User.username, User.bio, User.image,
               Article.slug, Article.title)
        .join(User, User.id == Comment.author_id)
        .join(Article, Article.id == Comment.article_id)
        .order_by(Comment.created_at.desc(), Comment.id.desc())
        .limit(limit).offset(offset)
    )
    comments = [
        CommentOnArticle(id=id_, body=body, created_at=created_at, article_slug=slug,
                         article_title=title, author=Profile(username, bio, image, following=False))
        for id_, body, created_at, username, bio, image, slug, title in rows
    ]
    return Page(items=comments, total=await site_total(session, "comments"), limit=limit, offset=offset)


async def delete_comment(session: AsyncSession, comment_id: int) -> None:
    """Delete any comment (admins only: the caller checks). NotFound when it is already gone."""
    async with writing(session):
        # Its article first, FOR KEY SHARE, as comments.delete_comment does (no circle with a
        # deletion of the article).
        on = select(Comment.article_id).where(Comment.id == comment_id).scalar_subquery()
        await session.execute(select(Article.id).where(Article.id == on)
                              .with_for_update(read=True, key_share=True))
        removed = (await session.execute(delete(Comment).where(Comment.id == comment_id)
                                         .returning(Comment.article_id))).first()
        if removed is None:
            raise NotFound("comment")
        await counted(session, removed.article_id, -1)
