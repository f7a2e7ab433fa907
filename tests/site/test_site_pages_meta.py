"""What a visitor and a search engine read before the content: a title and a description of each
page's own, visible labels with autocomplete on every field, one message on the 404 page, an
honest empty state past the last page, and a preview of an article before it is published."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from quart import Quart
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import comments
from app.models import Article
from app.site.rendering import ago, exact_time
from tests.support.site import make_article, make_user, page_text, post, sign_in


def _title(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.S)
    assert found
    return found.group(1).strip()


def _description(html: str) -> str:
    found = re.search(r'<meta name="description" content="([^"]*)">', html)
    assert found, "no meta description"
    return found.group(1)


async def test_each_page_has_a_title_and_description_of_its_own(client, db: AsyncSession) -> None:
    author = await make_user(db, "titled")
    for number in range(12):
        await make_article(db, author, f"Piece {number}", tags=("python",))
    seen = {}
    for path in ("/", "/?tag=python", "/?page=2", "/article/piece-3", "/profile/titled", "/login",
                 "/register"):
        html = await page_text(client, path)
        seen[path] = (_title(html), _description(html))
    assert seen["/"][0] == "Conduit: a place to share your knowledge"
    assert seen["/?tag=python"][0] == "#python articles — Conduit"
    assert seen["/?page=2"][0] == "Conduit: a place to share your knowledge, older articles — Conduit"
    assert seen["/?page=2"][1].endswith("(older articles).")
    assert seen["/article/piece-3"] == ("Piece 3 — Conduit", "About Piece 3 By titled.")
    assert len({title for title, _ in seen.values()}) == len(seen)  # before: all "Conduit"
    assert all(description for _, description in seen.values())


async def test_past_the_last_page_says_so(client, db: AsyncSession) -> None:
    author = await make_user(db, "few")
    await make_article(db, author, "Only one")
    html = await page_text(client, "/?page=9999")
    assert "No older articles are here." in html
    assert 'href="/">Go to the newest</a>' in html
    assert "No articles are here... yet." not in html  # before: it said the site was empty


async def test_the_404_page_says_it_once(client) -> None:
    html = await page_text(client, "/no/such/page", status=404)
    assert "There is nothing here." in html
    assert "The requested URL was not found on the server" not in html  # before: both


async def test_fields_have_visible_labels_and_autocomplete(client, db: AsyncSession) -> None:
    login = await page_text(client, "/login")
    assert '<label class="form-label" for="email">Email</label>' in login
    assert 'autocomplete="current-password"' in login and 'autocomplete="email"' in login
    assert 'autocomplete="new-password"' in await page_text(client, "/register")
    await make_user(db, "labelled")
    await sign_in(client, "labelled")
    settings = await page_text(client, "/settings")
    assert 'autocomplete="new-password"' in settings
    assert 'aria-describedby="password-hint"' in settings
    assert "visually-hidden" not in settings.split("<main>")[1]  # every field's label shows


async def test_the_editor_previews_without_publishing(app: Quart, client, db: AsyncSession) -> None:
    await make_user(db, "drafter")
    await sign_in(client, "drafter")
    answer = await post(client, "/editor", {
        "title": "Draft", "description": "d", "tags": "",
        "body": "Some **bold** text <script>alert(1)</script>", "preview": "1"}, token_page="/editor")
    assert answer.status_code == 200
    html = await answer.get_data(as_text=True)
    assert "<strong>bold</strong>" in html  # rendered as the article page would
    # ... and styled as it: the article's banner with its title, the body's own typography.
    assert '<div class="banner preview-banner"><h1>Draft</h1></div>' in html
    assert '<div class="article-body"><p>Some <strong>bold</strong>' in html
    assert "<script>alert(1)" not in html  # by the same sanitiser
    assert "(not saved yet)" in html and 'value="Draft"' in html  # the form keeps what was typed
    assert await db.scalar(select(func.count()).select_from(Article)) == 0
    published = await post(client, "/editor", {"title": "Draft", "description": "d", "tags": "",
                                               "body": "Some **bold** text"}, token_page="/editor")
    assert published.status_code == 302
    assert await db.scalar(select(func.count()).select_from(Article)) == 1


async def test_comments_come_twenty_to_a_page(client, db: AsyncSession) -> None:
    author = await make_user(db, "chatty")
    made = await make_article(db, author, "Talked about")
    for number in range(45):
        await comments.add_comment(db, author.id, made.slug, f"Comment number {number:02d}")
    first = await page_text(client, f"/article/{made.slug}")
    assert first.count('class="card comment"') == 20
    assert "Comment number 00" in first and "Comment number 20" not in first
    assert "Comments 1\u201320 of 45, oldest first." in first  # an en dash
    assert f'href="/article/{made.slug}?page=3#comments"' in first
    last = await page_text(client, f"/article/{made.slug}?page=3")
    assert last.count('class="card comment"') == 5 and "Comment number 44" in last


async def test_times_are_relative_with_the_exact_one_on_hover(client, db: AsyncSession) -> None:
    author = await make_user(db, "timely")
    made = await make_article(db, author, "Just written")
    html = await page_text(client, f"/article/{made.slug}")
    stamp = re.search(r'<time class="date" datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', html)
    assert stamp and stamp.group(3) == "just now" and stamp.group(2).endswith(" UTC")
    assert "🗑" not in html and "&#9998;" not in html  # icons are inline SVG, not emoji


def test_relative_times_read_naturally() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    cases = {timedelta(seconds=30): "just now", timedelta(minutes=1): "1 minute ago",
             timedelta(minutes=59): "59 minutes ago", timedelta(hours=3): "3 hours ago",
             timedelta(days=1, hours=2): "yesterday", timedelta(days=12): "12 days ago",
             timedelta(days=40): "October 14, 2026"}
    for before, text in cases.items():
        assert ago(now - before, now) == text
    assert exact_time(now) == "November 23, 2026, 12:00 UTC"
