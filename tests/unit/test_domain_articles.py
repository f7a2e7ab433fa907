"""Articles, tags, favorites, lists, feeds and comments through the domain layer."""

from __future__ import annotations

import pytest
from quart import Quart
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import Forbidden, Invalid, NotFound, article_lists, articles, comments, favorites, users
from app.domain.records import ArticleRecord
from app.infra.database import get_database
from app.models import Comment, Favorite
from tests.conftest import TEST_PASSWORD_HASH
from tests.support.database import add_users, count_queries


@pytest.fixture
async def people(db: AsyncSession) -> list[int]:
    return await add_users(db, 3, TEST_PASSWORD_HASH)  # user0, user1, user2


async def _write(db: AsyncSession, author: int, title: str, tags: list[str] | None = None
                 ) -> ArticleRecord:
    return await articles.create_article(db, author, title=title, description="About " + title,
                                         body="# " + title, tags=tags or [])


async def test_create_and_get_with_tags(db: AsyncSession, people: list[int]) -> None:
    made = await _write(db, people[0], "How to train your dragon", ["dragons", "training", "dragons"])
    assert made.slug == "how-to-train-your-dragon"
    assert made.tags == ["dragons", "training"]
    assert made.body == "# How to train your dragon"
    assert made.favorites_count == 0 and not made.favorited
    assert made.author.username == "user0"
    assert made.created_at == made.updated_at
    got = await article_lists.get_article(db, made.slug, viewer_id=people[1])
    assert got == made


async def test_duplicate_titles_get_distinct_slugs(db: AsyncSession, people: list[int]) -> None:
    slugs = {(await _write(db, people[i % 3], "Same title")).slug for i in range(4)}
    assert len(slugs) == 4
    assert "same-title" in slugs
    assert all(slug.startswith("same-title") for slug in slugs)


async def test_unicode_and_symbol_titles_slugify(db: AsyncSession, people: list[int]) -> None:
    assert (await _write(db, people[0], "Crème brûlée: 10 tips!")).slug == "creme-brulee-10-tips"
    assert (await _write(db, people[0], "日本語")).slug == "article"


@pytest.mark.parametrize(("field", "value"), [("title", " "), ("description", ""), ("body", None)])
async def test_blank_required_fields_are_invalid(db: AsyncSession, people: list[int],
                                                 field: str, value: str | None) -> None:
    fields = {"title": "T", "description": "D", "body": "B", field: value}
    with pytest.raises(Invalid) as caught:
        await articles.create_article(db, people[0], **fields)
    assert caught.value.errors == {field: ["can't be blank"]}


async def test_update_is_partial_and_retitling_changes_the_slug(db: AsyncSession,
                                                                 people: list[int]) -> None:
    made = await _write(db, people[0], "First title", ["a", "b"])
    updated = await articles.update_article(db, made.slug, people[0], body="new body")
    assert (updated.slug, updated.title, updated.body, updated.tags) == (
        "first-title", "First title", "new body", ["a", "b"])
    assert updated.updated_at > made.updated_at
    retitled = await articles.update_article(db, made.slug, people[0], title="Second title",
                                             tags=[])
    assert (retitled.slug, retitled.tags) == ("second-title", [])
    with pytest.raises(NotFound):
        await article_lists.get_article(db, "first-title")
    with pytest.raises(Invalid):
        await articles.update_article(db, retitled.slug, people[0], tags=None)


async def test_only_the_author_may_edit_or_delete(db: AsyncSession, people: list[int]) -> None:
    made = await _write(db, people[0], "Mine")
    with pytest.raises(Forbidden) as caught:
        await articles.update_article(db, made.slug, people[1], title="Yours")
    assert caught.value.errors == {"article": ["forbidden"]}
    with pytest.raises(Forbidden):
        await articles.delete_article(db, made.slug, people[1])
    await articles.delete_article(db, made.slug, people[1], as_admin=True)
    with pytest.raises(NotFound):
        await articles.delete_article(db, made.slug, people[0])


async def test_delete_cascades_to_comments_favorites_and_tags(db: AsyncSession,
                                                              people: list[int]) -> None:
    made = await _write(db, people[0], "Doomed", ["gone"])
    await comments.add_comment(db, people[1], made.slug, "first!")
    await favorites.favorite(db, people[1], made.slug)
    await articles.delete_article(db, made.slug, people[0])
    assert await db.scalar(select(func.count()).select_from(Comment)) == 0
    assert await db.scalar(select(func.count()).select_from(Favorite)) == 0
    assert await article_lists.tags_in_use(db) == []


async def test_lists_filter_page_and_count(db: AsyncSession, people: list[int]) -> None:
    for i in range(7):
        await _write(db, people[i % 2], f"Post {i}", ["even" if i % 2 == 0 else "odd", "all"])
    await favorites.favorite(db, people[2], "post-3")
    await favorites.favorite(db, people[2], "post-4")

    page = await article_lists.list_articles(db, limit=3, offset=0)
    assert page.total == 7
    assert [a.title for a in page.items] == ["Post 6", "Post 5", "Post 4"]  # newest first
    assert all(a.body is None for a in page.items)
    page2 = await article_lists.list_articles(db, limit=3, offset=6)
    assert [a.title for a in page2.items] == ["Post 0"] and page2.total == 7

    assert (await article_lists.list_articles(db, tag="odd")).total == 3
    assert (await article_lists.list_articles(db, author="USER1")).total == 3
    fav = await article_lists.list_articles(db, favorited="user2", viewer_id=people[2])
    assert [a.slug for a in fav.items] == ["post-4", "post-3"]
    assert all(a.favorited and a.favorites_count == 1 for a in fav.items)
    both = await article_lists.list_articles(db, tag="even", favorited="user2")
    assert [a.slug for a in both.items] == ["post-4"]
    assert (await article_lists.list_articles(db, tag="nope")).total == 0
    assert await article_lists.tags_in_use(db) == ["all", "even", "odd"]
    for limit, offset in [(0, 0), (101, 0), (5, -1)]:
        with pytest.raises(Invalid):
            await article_lists.list_articles(db, limit=limit, offset=offset)


async def test_feed_has_only_followed_authors(db: AsyncSession, people: list[int]) -> None:
    await _write(db, people[0], "By zero")
    await _write(db, people[1], "By one")
    assert (await article_lists.feed(db, people[2])).total == 0
    await users.follow(db, people[2], "user1")
    feed = await article_lists.feed(db, people[2])
    assert [a.title for a in feed.items] == ["By one"]
    assert feed.items[0].author.following


async def test_favorite_is_idempotent_and_unfavorite_undoes(db: AsyncSession,
                                                            people: list[int]) -> None:
    made = await _write(db, people[0], "Liked")
    assert (await favorites.favorite(db, people[1], made.slug)).favorites_count == 1
    again = await favorites.favorite(db, people[1], made.slug)
    assert again.favorites_count == 1 and again.favorited
    assert (await favorites.favorite(db, people[2], made.slug)).favorites_count == 2
    undone = await favorites.unfavorite(db, people[1], made.slug)
    assert undone.favorites_count == 1 and not undone.favorited
    with pytest.raises(NotFound):
        await favorites.favorite(db, people[1], "no-such-slug")


async def test_comments_add_list_delete(db: AsyncSession, people: list[int]) -> None:
    made = await _write(db, people[0], "Discussed")
    first = await comments.add_comment(db, people[1], made.slug, "Great post")
    await comments.add_comment(db, people[2], made.slug, "Agreed")
    await users.follow(db, people[0], "user1")
    listed = await comments.list_comments(db, made.slug, viewer_id=people[0])
    assert [c.body for c in listed] == ["Great post", "Agreed"]
    assert [c.author.following for c in listed] == [True, False]
    with pytest.raises(Forbidden):
        await comments.delete_comment(db, made.slug, first.id, people[2])
    await comments.delete_comment(db, made.slug, first.id, people[1])
    with pytest.raises(NotFound) as caught:
        await comments.delete_comment(db, made.slug, first.id, people[1])
    assert caught.value.errors == {"comment": ["not found"]}
    with pytest.raises(Invalid):
        await comments.add_comment(db, people[1], made.slug, "   ")


@pytest.mark.parametrize("limit", [5, 50])
async def test_a_page_costs_the_same_queries_whatever_its_size(
        app: Quart, db: AsyncSession, people: list[int], limit: int) -> None:
    for i in range(60):
        made = await _write(db, people[i % 3], f"Article {i}", [f"t{i % 4}", "common"])
        await favorites.favorite(db, people[(i + 1) % 3], made.slug)
    await users.follow(db, people[0], "user1")
    engine = get_database(app).engine
    assert engine is not None
    with count_queries(engine) as statements:
        page = await article_lists.list_articles(db, viewer_id=people[0], limit=limit)
    assert len(page.items) == limit
    assert len(statements) == 1, statements  # the page, its tags and the total in one
    assert page.total == 60
    with count_queries(engine) as statements:
        feed = await article_lists.feed(db, people[0], limit=limit)
    assert len(feed.items) == min(limit, 20) and feed.total == 20
    assert len(statements) == 2, statements  # merged on read: the authors' heads, then the page
