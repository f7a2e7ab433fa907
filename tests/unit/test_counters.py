"""Counters (app.domain.counters): kept exact by concurrent writers on both backends, never
negative, and recomputed by ``recount``, which finds and repairs drift."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from quart import Quart
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.domain import DomainError, article_lists, articles, comments, favorites, users
from app.domain.counters import recount
from app.infra.database import get_database
from app.models import Article, User
from tests.conftest import TEST_PASSWORD_HASH
from tests.support.database import add_users

PEOPLE = 24
OPERATIONS = 400


def _engine(app: Quart) -> AsyncEngine:
    engine = get_database(app).engine
    assert engine is not None
    return engine


async def test_random_concurrent_writes_and_a_recount_meanwhile_leave_no_drift(
        app: Quart, patient: async_sessionmaker[AsyncSession], db: AsyncSession) -> None:
    people = await add_users(db, PEOPLE, TEST_PASSWORD_HASH)
    slugs = [(await articles.create_article(db, people[i], title=f"Start {i}", description="d",
                                            body="b", tags=["common", f"t{i % 3}"])).slug
             for i in range(8)]
    maker = patient
    rng = random.Random(20)
    written: list[int] = []  # comment ids

    async def one(number: int) -> None:
        who, slug = rng.randrange(PEOPLE), rng.choice(slugs)
        kind = rng.choice(("favorite", "favorite", "unfavorite", "comment", "uncomment", "follow",
                           "unfollow", "create", "delete", "retag"))
        async with maker() as session:  # a session per task, never shared
            try:
                if kind == "favorite":
                    await favorites.favorite(session, people[who], slug)
                elif kind == "unfavorite":
                    await favorites.unfavorite(session, people[who], slug)
                elif kind == "comment":
                    written.append((await comments.add_comment(session, people[who], slug, "hi")).id)
                elif kind == "uncomment" and written:
                    await comments.delete_comment(session, slug, rng.choice(written), people[who],
                                                  as_admin=True)
                elif kind in ("follow", "unfollow"):
                    other = f"user{(who + 1 + rng.randrange(PEOPLE - 1)) % PEOPLE}"
                    await (users.follow if kind == "follow" else users.unfollow)(
                        session, people[who], other)
                elif kind == "create":
                    made = await articles.create_article(session, people[who], title=f"New {number}",
                                                         description="d", body="b",
                                                         tags=["common", f"t{number % 5}"])
                    slugs.append(made.slug)
                elif kind == "delete":
                    await articles.delete_article(session, slug, people[who], as_admin=True)
                elif kind == "retag":
                    await articles.update_article(session, slug, people[who], tags=[f"t{number % 4}"])
            except DomainError:
                pass  # gone already, not the author, nothing to undo: refused, never half-done

    async def recount_meanwhile() -> dict[str, int]:
        await asyncio.sleep(0)
        return await recount(_engine(app), batch=3)  # small batches: many transactions among the writes

    results = await asyncio.gather(*(one(n) for n in range(OPERATIONS)), recount_meanwhile(),
                                   return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    drift = await recount(_engine(app))
    assert drift == dict.fromkeys(drift, 0), drift
    assert len(drift) == 9  # seven derived values, the site's totals and the hours all checked


async def test_recount_finds_and_repairs_every_kind_of_drift(app: Quart, db: AsyncSession) -> None:
    people = await add_users(db, 3, TEST_PASSWORD_HASH)
    made = await articles.create_article(db, people[0], title="Counted", description="d", body="b",
                                         tags=["x", "y"])
    await favorites.favorite(db, people[1], made.slug)
    await comments.add_comment(db, people[2], made.slug, "hello")
    assert await recount(_engine(app)) == dict.fromkeys(await recount(_engine(app)), 0)
    async with _engine(app).begin() as conn:  # as a bulk import, or a restore of part, would leave it
        for statement in ("UPDATE articles SET favorites_count = 7, comments_count = 0",
                          "UPDATE users SET articles_count = 5", "UPDATE tags SET articles_count = 0",
                          "UPDATE article_tags SET created_at = NULL",
                          "UPDATE favorites SET article_created_at = NULL",
                          "UPDATE site_counters SET value = 99",
                          "UPDATE article_hours SET articles = 4"):
            await conn.execute(text(statement))
    drift = await recount(_engine(app))
    assert drift == {"articles.favorites_count": 1, "articles.comments_count": 1,
                     "users.articles_count": 3, "users.favorites_count": 0, "tags.articles_count": 2,
                     "article_tags.created_at": 2, "favorites.article_created_at": 1,
                     "site_counters": 3, "article_hours": 1}
    assert await recount(_engine(app)) == dict.fromkeys(drift, 0)
    again = await article_lists.get_article(db, made.slug)
    assert (again.favorites_count, again.comments_count) == (1, 1)
    page = await article_lists.list_articles(db, tag="x")  # the copied time is back: the tag lists it
    assert [item.slug for item in page.items] == [made.slug] and page.total == 1
    assert (await article_lists.list_articles(db)).total == 1


async def test_a_counter_never_goes_below_zero(app: Quart, db: AsyncSession) -> None:
    people = await add_users(db, 2, TEST_PASSWORD_HASH)
    made = await articles.create_article(db, people[0], title="Low", description="d", body="b")
    await favorites.favorite(db, people[1], made.slug)
    async with _engine(app).begin() as conn:  # drifted low, somehow
        await conn.execute(text("UPDATE articles SET favorites_count = 0"))
        await conn.execute(text("UPDATE users SET favorites_count = 0"))
    after = await favorites.unfavorite(db, people[1], made.slug)
    assert after.favorites_count == 0  # clamped, not -1
    assert await db.scalar(select(User.favorites_count).where(User.id == people[1])) == 0
    assert sum((await recount(_engine(app))).values()) == 0  # and right again: nobody favorites it


async def test_totals_come_from_counters_for_every_list(app: Quart, db: AsyncSession) -> None:
    people = await add_users(db, 4, TEST_PASSWORD_HASH)
    for n in range(5):
        made = await articles.create_article(db, people[n % 2], title=f"A {n}", description="d",
                                             body="b", tags=["even" if n % 2 == 0 else "odd"])
        await favorites.favorite(db, people[3], made.slug)
    await users.follow(db, people[2], "user0")
    await users.follow(db, people[2], "user1")
    assert (await article_lists.list_articles(db)).total == 5
    assert (await article_lists.list_articles(db, tag="even")).total == 3
    assert (await article_lists.list_articles(db, author="USER1")).total == 2
    assert (await article_lists.list_articles(db, favorited="user3")).total == 5
    assert (await article_lists.feed(db, people[2])).total == 5
    combined = await article_lists.list_articles(db, tag="odd", author="user1")
    assert (combined.total, combined.bounded) == (2, False)
    assert await article_lists.tags_in_use(db) == ["even", "odd"]
    await articles.delete_article(db, (await article_lists.list_articles(db, tag="odd")).items[0].slug,
                                  people[1])
    assert await article_lists.tags_in_use(db) == ["even", "odd"]
    assert (await article_lists.list_articles(db, tag="odd")).total == 1
    assert (await article_lists.list_articles(db, favorited="user3")).total == 4
    assert (await article_lists.feed(db, people[2])).total == 4


async def test_a_deep_offset_skips_hours_and_gives_the_same_page_as_a_walk(
        app: Quart, db: AsyncSession, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past OFFSET_WALK the list of every article starts at the hour that holds the offset
    (article_hours); every page must be the one a walk of the index gives."""
    people = await add_users(db, 2, TEST_PASSWORD_HASH)
    made = [await articles.create_article(db, people[n % 2], title=f"Hour {n}", description="d",
                                          body="b") for n in range(23)]
    async with _engine(app).begin() as conn:  # spread over hours, some sharing one, some a second apart
        for n, article in enumerate(made):
            at = datetime(2026, 5, 1, tzinfo=UTC) + timedelta(hours=n // 3, seconds=n % 3)
            await conn.execute(update(Article).where(Article.id == article.id)
                               .values(created_at=at))
    drift = await recount(_engine(app))
    assert drift["article_hours"] > 0  # the hours moved with the times
    await articles.delete_article(db, made[7].slug, people[1])  # one hour now has two
    walked = {offset: [a.slug for a in (await article_lists.list_articles(db, limit=4, offset=offset)).items]
              for offset in range(0, 25)}
    monkeypatch.setattr("app.domain.article_queries.OFFSET_WALK", 0)
    for offset, slugs in walked.items():
        page = await article_lists.list_articles(db, limit=4, offset=offset)
        assert [a.slug for a in page.items] == slugs, offset
        assert page.total == 22 and page.offset == offset
    assert walked[24] == [] and len(walked[20]) == 2
    assert sum((await recount(_engine(app))).values()) == 0  # kept right by create and delete
