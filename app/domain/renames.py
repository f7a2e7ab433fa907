"""Links that outlive a rename: a new title gives an article a new slug, and the old one is kept
here, so a link shared before the rename is answered with a 301 to the article's current URL."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.text import is_clean
from app.domain.transactions import insert_for, read
from app.models import Article, SlugRedirect


async def remember_old_slug(session: AsyncSession, article_id: int, old_slug: str) -> None:
    """Inside the rename's transaction. A slug given up twice points at the latest article."""
    upsert = insert_for(session, SlugRedirect).values(old_slug=old_slug, article_id=article_id)
    await session.execute(upsert.on_conflict_do_update(index_elements=[SlugRedirect.old_slug],
                                                       set_={"article_id": article_id}))


async def current_slug(session: AsyncSession, old_slug: str) -> str | None:
    """The slug now of the article that once had ``old_slug`` (None: no article ever had it)."""
    if not is_clean(old_slug):
        return None
    query = (select(Article.slug).join(SlugRedirect, SlugRedirect.article_id == Article.id)
             .where(SlugRedirect.old_slug == old_slug))
    rows = await read(session, query)
    return str(rows[0][0]) if rows else None
