"""A click keeps your place: favorite, follow, comment and delete a comment happen in place (no
reload, same scroll position, focus on the button, a visible note); every destructive action asks
first in a <dialog>; without JavaScript the same forms reload the page and the server asks on a
page of its own; on a phone the navigation folds into a menu. Real Chromium against Hypercorn."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import comments
from app.models import Article, Comment
from tests.conftest import TEST_PASSWORD
from tests.support.site import make_article, make_user

pytestmark = pytest.mark.once  # the pages in a browser: backend-independent

LONG_BODY = "\n\n".join(f"Paragraph {n}: " + "words " * 60 for n in range(30))  # a page to scroll


@pytest.fixture
async def reader(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    yield context
    await context.close()


async def _signed_in(context: BrowserContext, base: str, name: str) -> Page:
    page = await context.new_page()
    await page.goto(base + "/login")
    await page.fill("#email", f"{name}@example.test")
    await page.fill("#password", TEST_PASSWORD)
    await page.click("form button:has-text('Sign in')")
    await page.wait_for_url(base + "/")
    return page


async def _mark(page: Page) -> None:
    """A value that a reload would wipe out."""
    await page.evaluate("window.stayed = true")


async def _stayed(page: Page) -> bool:
    return bool(await page.evaluate("window.stayed === true"))


async def test_favorite_and_follow_keep_the_place_and_the_focus(
        live_server: str, reader: BrowserContext, db: AsyncSession) -> None:
    writer = await make_user(db, "writer")
    await make_user(db, "fan")
    made = await make_article(db, writer, "Worth keeping", body=LONG_BODY)
    page = await _signed_in(reader, live_server, "fan")
    await page.goto(f"{live_server}/article/{made.slug}")
    bottom = page.locator(".article-actions .fav-button")
    await bottom.scroll_into_view_if_needed()
    scrolled = await page.evaluate("window.scrollY")
    assert scrolled > 500
    await _mark(page)
    await bottom.click()
    await expect(bottom).to_contain_text("Unfavorite Article (1)")
    await expect(page.locator(".banner .fav-button")).to_contain_text("Unfavorite Article (1)")
    await expect(page.locator(".toast")).to_have_text("“Worth keeping” is in your favorites.")
    assert await _stayed(page)  # before: the whole page reloaded
    assert await page.evaluate("window.scrollY") == scrolled  # before: back to the top
    assert await page.evaluate(  # before: focus was lost to <body>
        "document.activeElement.closest('.article-actions') !== null"
        " && document.activeElement.classList.contains('fav-button')")
    await page.locator(".article-actions .follow-button").click()
    await expect(page.locator(".article-actions .follow-button")).to_contain_text("Unfollow writer")
    await expect(page.locator(".toast")).to_have_text("You follow writer now.")
    assert await page.evaluate("document.activeElement.classList.contains('follow-button')")
    assert await _stayed(page)


async def test_comments_are_posted_and_deleted_in_place_after_asking(
        live_server: str, reader: BrowserContext, db: AsyncSession) -> None:
    writer = await make_user(db, "host")
    await make_user(db, "talker")
    made = await make_article(db, writer, "Talk here")
    page = await _signed_in(reader, live_server, "talker")
    await page.goto(f"{live_server}/article/{made.slug}")
    await _mark(page)
    await page.fill("textarea#body", "First thoughts, in place.")
    await page.click("button:has-text('Post Comment')")
    await expect(page.locator(".comment .card-text")).to_have_text(["First thoughts, in place."])
    await expect(page.locator(".toast")).to_have_text("Your comment is posted.")
    await expect(page.locator("textarea#body")).to_have_value("")
    assert await page.evaluate("document.activeElement.id") == "body"
    # Delete: the dialog asks; Cancel keeps it.
    await page.click(".comment button:has-text('Delete')")
    dialog = page.locator("dialog.confirm-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Delete this comment? This cannot be undone.")
    assert await page.evaluate("document.activeElement.textContent") == "Cancel"  # the safe one
    await dialog.locator("button:has-text('Cancel')").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator(".comment")).to_have_count(1)
    await page.click(".comment button:has-text('Delete')")
    await dialog.locator("button:has-text('Delete')").click()
    await expect(page.locator(".comment")).to_have_count(0)
    await expect(page.locator(".toast")).to_have_text("The comment is deleted.")
    assert await _stayed(page)
    assert await db.scalar(select(func.count()).select_from(Comment)) == 0


async def test_deleting_an_article_asks_first(live_server: str, reader: BrowserContext,
                                             db: AsyncSession) -> None:
    author = await make_user(db, "owner")
    made = await make_article(db, author, "Maybe delete")
    page = await _signed_in(reader, live_server, "owner")
    await page.goto(f"{live_server}/article/{made.slug}")
    await page.click(".banner button:has-text('Delete Article')")
    dialog = page.locator("dialog.confirm-dialog")
    await dialog.locator("button:has-text('Cancel')").click()
    assert await db.scalar(select(func.count()).select_from(Article)) == 1  # before: gone at once
    await page.click(".banner button:has-text('Delete Article')")
    await dialog.locator("button:has-text('Delete')").click()
    await expect(page.locator(".flash")).to_have_text("The article is deleted.")
    assert await db.scalar(select(func.count()).select_from(Article)) == 0


async def test_without_javascript_the_forms_still_work_and_the_server_asks(
        live_server: str, browser: Browser, db: AsyncSession) -> None:
    author = await make_user(db, "plain")
    await make_user(db, "nojs")
    made = await make_article(db, author, "No script needed")
    await comments.add_comment(db, author.id, made.slug, "A comment to keep")
    context = await browser.new_context(java_script_enabled=False)
    try:
        page = await _signed_in(context, live_server, "nojs")
        await page.goto(f"{live_server}/article/{made.slug}")
        await page.click(".article-actions button:has-text('Favorite Article')")
        await expect(page.locator(".flash")).to_have_text("“No script needed” is in your favorites.")
        await expect(page.locator(".article-actions .fav-button")).to_contain_text("(1)")
    finally:
        await context.close()
    context = await browser.new_context(java_script_enabled=False)
    try:
        page = await _signed_in(context, live_server, "plain")
        await page.goto(f"{live_server}/article/{made.slug}")
        await page.click(".banner button:has-text('Delete Article')")
        await expect(page.locator("h1")).to_have_text("Delete this article?")  # the server asks
        await page.click("a:has-text('Cancel')")
        await expect(page.locator(".banner h1")).to_have_text("No script needed")
        await page.click(".banner button:has-text('Delete Article')")
        await page.click("button:has-text('Delete')")
        await expect(page.locator(".flash")).to_have_text("The article is deleted.")
    finally:
        await context.close()
    assert await db.scalar(select(func.count()).select_from(Article)) == 0


async def test_on_a_phone_the_navigation_is_a_menu(live_server: str, browser: Browser,
                                                   db: AsyncSession) -> None:
    await make_user(db, "mobile")
    context = await browser.new_context(viewport={"width": 375, "height": 740})
    try:
        page = await _signed_in(context, live_server, "mobile")
        toggle = page.locator(".nav-toggle")
        await expect(toggle).to_be_visible()
        await expect(page.locator("#main-nav")).to_be_hidden()
        header = await page.locator("header.navbar").bounding_box()
        assert header is not None and header["height"] < 80  # before: three rows, ~180 px
        await toggle.click()
        await expect(toggle).to_have_attribute("aria-expanded", "true")
        await page.click("#main-nav >> text=Settings")
        await expect(page.locator("h1")).to_have_text("Your Settings")
    finally:
        await context.close()


async def test_preview_renamed_links_times_and_comment_pages_in_the_browser(
        live_server: str, reader: BrowserContext, db: AsyncSession) -> None:
    """The rest of what a person notices, in a real browser: the editor's preview, an old link
    after a rename, a relative time with the exact one on hover, and pages of comments."""
    author = await make_user(db, "browsing")
    made = await make_article(db, author, "Before the rename")
    for number in range(25):
        await comments.add_comment(db, author.id, made.slug, f"Remark {number:02d}")
    page = await _signed_in(reader, live_server, "browsing")
    await page.goto(f"{live_server}/editor/{made.slug}")
    await page.fill("#body", "A **bold** claim")
    await page.click("button:has-text('Preview')")
    await expect(page.locator(".preview strong")).to_have_text("bold")
    await page.fill("#title", "After the rename")
    await page.click("button:has-text('Update Article')")
    await expect(page.locator(".banner h1")).to_have_text("After the rename")
    await page.goto(f"{live_server}/article/{made.slug}")  # the link from before the rename
    assert page.url.endswith("/article/after-the-rename")
    stamp = page.locator(".banner time")
    await expect(stamp).to_have_text("just now")
    assert (await stamp.get_attribute("title") or "").endswith(" UTC")
    await expect(page.locator(".comment")).to_have_count(20)
    await page.click(".pagination >> text=2")
    await expect(page.locator(".comment")).to_have_count(5)
    await expect(page.locator(".comment .card-text").last).to_have_text("Remark 24")
