"""Two people, two browsers (two Chromium contexts), one real conduit-serve with two workers: what
one does appears on the other's open page without a reload."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from quart import Quart
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ARTIFACTS, TEST_PASSWORD
from tests.live.test_live_server import serve
from tests.support.site import make_article, make_user

pytestmark = pytest.mark.once  # the pages in a browser: backend-independent


async def _sign_in(page: Page, base: str, name: str) -> None:
    await page.goto(base + "/login")
    await page.fill("#email", f"{name}@example.test")
    await page.fill("#password", TEST_PASSWORD)
    await page.click("form button:has-text('Sign in')")
    await expect(page.locator(".nav-user")).to_have_text(name)


async def _problems(page: Page) -> list[str]:
    found: list[str] = []
    page.on("console", lambda message: found.append(message.text) if message.type == "error" else None)
    return found


async def test_comments_favorites_and_new_articles_move_live_between_two_browsers(
        app: Quart, database_url: str, browser: Browser, db: AsyncSession, tmp_path: Path) -> None:
    kofi, ada = await make_user(db, "kofi"), await make_user(db, "ada")
    article = await make_article(db, kofi, "Live from the loop")
    with serve(database_url, tmp_path / "serve.log") as server:
        base = server.url
        reading, writing = await browser.new_context(), await browser.new_context()
        reader, writer = await reading.new_page(), await writing.new_page()
        problems = await _problems(reader)
        await _sign_in(writer, base, ada.username)
        await reader.goto(f"{base}/article/{article.slug}")  # anonymous: reading needs no account
        await reader.evaluate("window.stillTheSamePage = true")
        await writer.goto(f"{base}/article/{article.slug}")

        await writer.fill("#body", "Seen from the other browser")
        await writer.click("button:has-text('Post Comment')")
        comment = reader.locator(".comment", has_text="Seen from the other browser")
        await expect(comment).to_be_visible()
        await expect(comment.locator(".comment-author-name")).to_have_text("ada")

        await writer.click(".banner .fav-button")
        await expect(reader.locator(".banner .fav-button .counter")).to_have_text("(1)")
        await expect(reader.locator(".article-actions .fav-button .counter")).to_have_text("(1)")

        await writer.click(".comment button:has-text('Delete')")
        await writer.locator("dialog button:has-text('Delete')").click()
        await expect(comment).to_have_count(0)
        assert await reader.evaluate("window.stillTheSamePage") is True  # never reloaded

        await reader.goto(base + "/")
        await reader.evaluate("window.stillTheSamePage = true")
        await writer.goto(base + "/editor")
        await writer.fill("#title", "Fresh off the press")
        await writer.fill("#description", "A new one")
        await writer.fill("#body", "Published while the reader's page was open.")
        await writer.click("button:has-text('Publish Article')")
        banner = reader.locator(".new-articles a")
        await expect(banner).to_have_text("1 new article — show it")
        ARTIFACTS.mkdir(exist_ok=True)
        await reader.screenshot(path=str(ARTIFACTS / "live-new-articles.png"))
        assert await reader.evaluate("window.stillTheSamePage") is True
        await banner.click()
        await expect(reader.locator(".article-preview h3").first).to_have_text("Fresh off the press")
        await reading.close()
        await writing.close()
    assert problems == []  # no script error, no connection the page's policy refused
