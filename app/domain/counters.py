"""Counters: totals read in O(1) instead of counted in O(table), and their recount.

Every counter moves in the transaction of the change that moves it, by atomic SQL
(``SET n = n + 1``), so concurrent writers lose nothing on either backend; a decrement is clamped
at zero (never negative, whatever a bug or a hand-made edit did). What they count:

- ``articles.favorites_count`` and ``articles.comments_count``, shown on every article;
- ``users.articles_count`` (an author's list, and a feed's total: the sum over whom one follows)
  and ``users.favorites_count`` (a fan's list);
- ``tags.articles_count`` (a tag's list, and the popular tags: the first N of its index);
- ``site_counters``: the site's totals of articles, comments and users.

``recount`` recomputes every counter and every copied column (an article's creation time in its
tag links and favorites) from the base tables, in batches of keys, each batch its own
transaction: after a bulk import or a restore, or to check that nothing drifted. It reports what
it found wrong and repairs it. On PostgreSQL a batch first locks its rows (``FOR NO KEY UPDATE``), so a
writer that moves a counter meanwhile waits for it, and its count, read after the lock, includes
every change committed before: a recount under live traffic leaves no drift behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, case, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.domain.transactions import WRITE_OPTION, dialect_of, insert_for, read
from app.models import ArticleHour, SiteCounter

SITE: Table = SiteCounter.__table__  # type: ignore[assignment]
HOURS: Table = ArticleHour.__table__  # type: ignore[assignment]
# An article's creation hour in SQL, as each backend stores times (as migration 0007 fills it).
HOUR_SQL = {"postgresql": "date_trunc('hour', created_at, 'UTC')",
            "sqlite": "substr(created_at, 1, 13) || ':00:00.000000'"}
SITE_TOTALS = ("articles", "comments", "users")
BATCH = 10_000


def moved(column: ColumnElement[int], delta: int) -> ColumnElement[int]:
    """``column + delta``, never below zero."""
    if delta >= 0:
        return column + delta
    return case((column + delta < 0, 0), else_=column + delta)


async def bump(session: AsyncSession, table: Table, column: str, delta: int,
               where: ColumnElement[bool]) -> None:
    """Move ``table.column`` by ``delta`` in the rows ``where`` selects (in the write transaction)."""
    await session.execute(update(table).where(where).values({column: moved(table.c[column], delta)}))


async def bump_rows(session: AsyncSession, table: Table, column: str, deltas: dict[int, int]) -> None:
    """Move ``table.column`` of several rows by id, each by its own delta. PostgreSQL locks the
    rows in id order first: every writer takes row locks in one order (articles, users, tags,
    the site's row), so two writers never wait for each other in a circle."""
    deltas = {key: delta for key, delta in deltas.items() if delta}
    if not deltas:
        return
    ids = sorted(deltas)
    if len(ids) > 1:
        await lock_rows(session, table, ids)
    delta = case(deltas, value=table.c.id, else_=0)
    column_ = table.c[column]
    await session.execute(update(table).where(table.c.id.in_(ids))
                          .values({column: case((column_ + delta < 0, 0), else_=column_ + delta)}))


async def lock_rows(session: AsyncSession, table: Table, ids: list[int]) -> None:
    """Lock rows by id in id order (PostgreSQL; SQLite's writer holds the whole database) with
    the lock an UPDATE of non-key columns takes: FOR NO KEY UPDATE, which waits for other
    counters' writers but not for the key-share locks of foreign-key checks (a favorite or a tag
    link being inserted); a stronger lock there would wait in a circle with them."""
    if dialect_of(session) == "postgresql" and ids:
        await session.execute(select(table.c.id).where(table.c.id.in_(sorted(ids)))
                              .order_by(table.c.id).with_for_update(key_share=True))


async def bump_site(session: AsyncSession, name: str, delta: int) -> None:
    """Move a site total (its row is made on first use)."""
    if not delta:
        return
    stmt = insert_for(session, SiteCounter).values(name=name, value=max(delta, 0))
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["name"], set_={"value": moved(SITE.c.value, delta)}))


def hour_of(at: datetime) -> datetime:
    """The start of the UTC hour ``at`` is in: an article's bucket in ``article_hours``."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def bump_hour(session: AsyncSession, created_at: datetime, delta: int) -> None:
    """An article created at ``created_at`` was added (1) or deleted (-1): its hour's count moves.
    After the site's totals, in the one order of row locks."""
    stmt = insert_for(session, ArticleHour).values(hour=hour_of(created_at), articles=max(delta, 0))
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["hour"], set_={"articles": moved(HOURS.c.articles, delta)}))


SITE_TOTAL = select(SITE.c.value).where(SITE.c.name == bindparam("name"))


async def site_total(session: AsyncSession, name: str) -> int:
    rows = await read(session, SITE_TOTAL, {"name": name})
    return int(rows[0][0]) if rows else 0


# Recount --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recount:
    """One derived value: ``expression`` is its true value for the row of ``table`` keyed by
    ``key``; rows where the stored ``column`` differs are drift."""

    name: str
    table: str
    key: str
    column: str
    expression: str


RECOUNTS = (
    Recount("articles.favorites_count", "articles", "id", "favorites_count",
            "(SELECT count(*) FROM favorites f WHERE f.article_id = articles.id)"),
    Recount("articles.comments_count", "articles", "id", "comments_count",
            "(SELECT count(*) FROM comments c WHERE c.article_id = articles.id)"),
    Recount("users.articles_count", "users", "id", "articles_count",
            "(SELECT count(*) FROM articles a WHERE a.author_id = users.id)"),
    Recount("users.favorites_count", "users", "id", "favorites_count",
            "(SELECT count(*) FROM favorites f WHERE f.user_id = users.id)"),
    Recount("tags.articles_count", "tags", "id", "articles_count",
            "(SELECT count(*) FROM article_tags l WHERE l.tag_id = tags.id)"),
    Recount("article_tags.created_at", "article_tags", "article_id", "created_at",
            "(SELECT a.created_at FROM articles a WHERE a.id = article_tags.article_id)"),
    Recount("favorites.article_created_at", "favorites", "article_id", "article_created_at",
            "(SELECT a.created_at FROM articles a WHERE a.id = favorites.article_id)"),
)


async def _batch(engine: AsyncEngine, recount: Recount, lo: int, hi: int) -> int:
    """Repair the rows keyed in (lo, hi] of one derived value; how many were wrong."""
    where = f"{recount.key} > :lo AND {recount.key} <= :hi"
    # IS DISTINCT FROM on PostgreSQL, IS NOT on SQLite: a NULL (never filled) counts as wrong.
    differs = "IS DISTINCT FROM" if engine.dialect.name == "postgresql" else "IS NOT"
    async with engine.connect() as conn:
        conn = await conn.execution_options(**{WRITE_OPTION: True}) if engine.dialect.name == "sqlite" \
            else await conn.execution_options(isolation_level="READ COMMITTED")
        async with conn.begin():
            if engine.dialect.name == "postgresql":
                await conn.execute(text(f"SELECT 1 FROM {recount.table} WHERE {where} "
                                        f"ORDER BY {recount.key} FOR NO KEY UPDATE"),
                                   {"lo": lo, "hi": hi})
            result = await conn.execute(text(
                f"UPDATE {recount.table} SET {recount.column} = {recount.expression} "
                f"WHERE {where} AND {recount.column} {differs} {recount.expression}"),
                {"lo": lo, "hi": hi})
            return int(result.rowcount)


async def _site_totals(engine: AsyncEngine) -> int:
    """Repair the site's totals; how many were wrong."""
    wrong = 0
    for name in SITE_TOTALS:  # a transaction each: it holds one table's lock, never two at once
        async with engine.connect() as conn:
            conn = await conn.execution_options(**{WRITE_OPTION: True}) \
                if engine.dialect.name == "sqlite" \
                else await conn.execution_options(isolation_level="READ COMMITTED")
            async with conn.begin():
                if engine.dialect.name == "postgresql":  # writers of this table wait meanwhile
                    await conn.execute(text(f"LOCK TABLE {name} IN SHARE MODE"))
                true = (await conn.execute(text(f"SELECT count(*) FROM {name}"))).scalar_one()
                stored = (await conn.execute(select(SITE.c.value).where(SITE.c.name == name))
                          ).scalar_one_or_none()
                if stored != true:
                    wrong += 1
                    await conn.execute(SITE.delete().where(SITE.c.name == name))
                    await conn.execute(SITE.insert().values(name=name, value=true))
    return wrong


async def recount(engine: AsyncEngine, *, batch: int = BATCH,
                  progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Recompute every counter and copied column from the base tables; the rows found wrong (and
    repaired), by name."""
    drift: dict[str, int] = {}
    for item in RECOUNTS:
        async with engine.connect() as conn:
            top = (await conn.execute(text(f"SELECT max({item.key}) FROM {item.table}"))).scalar() or 0
        wrong = 0
        for lo in range(0, int(top), batch):
            wrong += await _batch(engine, item, lo, lo + batch)
        drift[item.name] = wrong
        if progress:
            progress(f"{item.name}: {wrong} wrong of keys up to {top}")
    drift["site_counters"] = await _site_totals(engine)
    drift["article_hours"] = await _hours(engine)
    if progress:
        progress(f"site_counters: {drift['site_counters']} wrong")
        progress(f"article_hours: {drift['article_hours']} wrong")
    return drift


async def _hours(engine: AsyncEngine) -> int:
    """Repair the articles' hour counts (one GROUP BY of the articles, while their writers wait
    on PostgreSQL: about a second at 1M articles); how many hours were wrong."""
    hour = HOUR_SQL[engine.dialect.name]
    async with engine.connect() as conn:
        conn = await conn.execution_options(**{WRITE_OPTION: True}) if engine.dialect.name == "sqlite" \
            else await conn.execution_options(isolation_level="READ COMMITTED")
        async with conn.begin():
            if engine.dialect.name == "postgresql":
                await conn.execute(text("LOCK TABLE articles IN SHARE MODE"))
            true: dict[Any, int] = {h: n for h, n in await conn.execute(text(
                f"SELECT {hour} AS h, count(*) FROM articles GROUP BY h"))}
            stored: dict[Any, int] = {h: n for h, n in await conn.execute(text(
                "SELECT hour, articles FROM article_hours"))}
            wrong = [h for h in true.keys() | stored.keys() if true.get(h, 0) != stored.get(h, 0)]
            if wrong:
                await conn.execute(text("DELETE FROM article_hours"))
                await conn.execute(HOURS.insert(), [{"hour": _aware(h), "articles": n}
                                                    for h, n in true.items()])
    return len(wrong)


def _aware(value: datetime | str) -> datetime:
    """An hour as read back in raw SQL (SQLite: its text), as an aware UTC datetime."""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at
