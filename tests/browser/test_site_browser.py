"""The site in a real browser: Debian's headless Chromium driven by Playwright, against Hypercorn
(live_server) on the test database. Screenshots go to test-artifacts/ (git-ignored)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from app.commands.demo_data import seed
from app.domain import users
from tests.conftest import ARTIFACTS, TEST_PASSWORD
from tests.support.site import make_article, make_user

pytestmark = pytest.mark.once  # the pages in a browser: backend-independent

KOFI_BODY = """Quart keeps Flask's API and runs it on **asyncio**, so a view can `await` the database
while the same worker serves other requests.

## What changes

- views are `async def`;
- `g`, `request` and `session` live in context variables, one copy per task;
- a blocking call stalls *every* request on the loop, so slow work goes to a thread.

```python
@blueprint.get("/article/<slug>")
async def article(slug: str) -> str:
    view = await article_lists.get_article(get_db(), slug)
    return await render_template("site/article.html", article=view)
```

> Measure before you tune: the event loop is rarely the bottleneck.
"""


async def _sign_in(page: Page, base: str, email: str, password: str) -> None:
    await page.goto(base + "/login")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("form button:has-text('Sign in')")


async def test_a_reader_writes_comments_favorites_follows_and_signs_back_in(
        live_server: str, page: Page, browser: Browser, db: AsyncSession) -> None:
    base = live_server
    ARTIFACTS.mkdir(exist_ok=True)
    await seed(db, users=5, articles=12, comments=2)  # a lived-in site around the journey
    kofi = await make_user(db, "kofi")
    kofis = await make_article(db, kofi, "Async views without the fuss", body=KOFI_BODY,
                               tags=("quart", "asyncio", "python"))
    await make_user(db, "boss")
    await users.set_admin(db, "boss", True)

    # Sign up.
    await page.goto(base + "/")
    await page.click("nav >> text=Sign up")
    await page.fill("#username", "dana")
    await page.fill("#email", "dana@example.test")
    await page.fill("#password", "dana's long password")
    await page.click("form button:has-text('Sign up')")
    await expect(page.locator(".nav-user")).to_have_text("dana")
    await expect(page.locator(".flash")).to_contain_text("Welcome to Conduit, dana!")

    # Write an article with tags.
    await page.click("nav >> text=New Article")
    await page.fill("#title", "Notes from the event loop")
    await page.fill("#description", "What I learnt moving a Flask app to Quart")
    await page.fill("#body", "## Lessons\n\n1. Await the database.\n2. Keep views thin.")
    await page.fill("#tags", "quart asyncio")
    await page.click("button:has-text('Publish Article')")
    await expect(page.locator(".banner h1")).to_have_text("Notes from the event loop")
    await expect(page.locator(".article-body h2")).to_have_text("Lessons")
    await expect(page.locator(".article-content .tag-pill")).to_have_text(["asyncio", "quart"])
    my_article_url = page.url

    # See it on the home page and on the profile.
    await page.click("nav >> text=Home")
    await expect(page.locator(".article-preview h3").first).to_have_text("Notes from the event loop")
    await page.click(".nav-user")
    await expect(page.locator(".user-info h1")).to_have_text("dana")
    await expect(page.locator(".article-preview h3")).to_have_text(["Notes from the event loop"])

    # Comment on it.
    await page.goto(my_article_url)
    await page.fill("textarea#body", "Written in a **real** browser.")
    await page.click("button:has-text('Post Comment')")
    await expect(page.locator(".comment .card-text")).to_have_text(["Written in a real browser."])

    # Favorite another author's article, and follow him.
    await page.goto(f"{base}/article/{kofis.slug}")
    await page.click("button:has-text('Favorite Article')")
    await expect(page.locator(".article-actions .fav-button")).to_contain_text("Unfavorite Article (1)")
    await page.click(".article-actions button:has-text('Follow kofi')")
    await expect(page.locator(".article-actions .follow-button")).to_contain_text("Unfollow kofi")
    await page.reload()  # (the flashed message is gone: a clean screenshot)
    await expect(page.locator(".flash")).to_have_count(0)
    await page.screenshot(path=str(ARTIFACTS / "article.png"))

    # His article is in Your Feed; the reader's own is not (she does not follow herself).
    await page.click("nav >> text=Home")
    await page.click(".feed-toggle >> text=Your Feed")
    await expect(page.locator("h2.tab.active")).to_have_text("Your Feed")
    await expect(page.locator(".article-preview h3")).to_have_text(["Async views without the fuss"])
    await page.click(".feed-toggle >> text=Global Feed")
    await expect(page.locator(".article-preview").first).to_be_visible()
    await page.screenshot(path=str(ARTIFACTS / "home-signed-in.png"))

    # Sign out, then sign in again.
    await page.click("nav >> text=Sign out")
    await expect(page.locator("nav >> text=Sign in")).to_be_visible()
    await expect(page.locator(".nav-user")).to_have_count(0)
    await expect(page.locator(".flash")).to_have_text("You are signed out.")
    await page.goto(base + "/")
    await expect(page.locator(".banner h1")).to_have_text("conduit")
    await page.screenshot(path=str(ARTIFACTS / "home.png"))
    await _sign_in(page, base, "dana@example.test", "dana's long password")
    await expect(page.locator(".nav-user")).to_have_text("dana")

    # An administrator deletes the reader's comment.
    admin_context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        admin_page = await admin_context.new_page()
        await _sign_in(admin_page, base, "boss@example.test", TEST_PASSWORD)
        await expect(admin_page.locator("nav >> text=Admin")).to_be_visible()
        await admin_page.click("nav >> text=Admin")
        await admin_page.click(".nav-tabs >> text=Comments")
        row = admin_page.locator("tr", has_text="Written in a **real** browser.")  # the source
        await expect(row).to_have_count(1)
        await row.locator("button:has-text('Delete')").click()
        dialog = admin_page.locator("dialog.confirm-dialog")
        await expect(dialog).to_contain_text("Delete it? This cannot be undone.")
        await dialog.locator("button:has-text('Delete')").click()
        await expect(admin_page.locator(".flash")).to_have_text("The comment is deleted.")
        await expect(admin_page.locator("tr", has_text="Written in a")).to_have_count(0)
    finally:
        await admin_context.close()
    await page.goto(my_article_url)
    await expect(page.locator(".comment")).to_have_count(0)


async def test_the_site_fits_a_phone_screen(live_server: str, browser: Browser,
                                            db: AsyncSession) -> None:
    await seed(db, users=3, articles=6, comments=1)
    await make_user(db, "root")
    await users.set_admin(db, "root", True)
    context = await browser.new_context(viewport={"width": 360, "height": 780}, is_mobile=True)
    try:
        page = await context.new_page()

        async def fits(path: str) -> None:
            response = await page.goto(live_server + path)
            assert response is not None and response.status == 200, path
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"

        for path in ("/", "/login", "/register", "/article/understanding-event-loops", "/contexts"):
            await fits(path)
        await _sign_in(page, live_server, "root@example.test", TEST_PASSWORD)
        for path in ("/?feed=following", "/editor", "/settings", "/profile/root", "/admin/",
                     "/admin/articles", "/admin/comments", "/contexts"):
            await fits(path)
        await page.goto(live_server + "/")
        await expect(page.locator(".article-preview").first).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "home-phone.png"), full_page=True)
    finally:
        await context.close()


async def test_a_comment_box_without_the_token_is_refused_in_the_browser(
        live_server: str, page: Page, db: AsyncSession) -> None:
    """The token is what makes the form work: strip it and the server answers 400."""
    await make_user(db, "eve")
    await make_article(db, await make_user(db, "host"), "Guarded")
    await _sign_in(page, live_server, "eve@example.test", TEST_PASSWORD)
    await page.goto(live_server + "/article/guarded")
    await page.evaluate("document.querySelector('.comment-form input[name=csrf_token]').remove()")
    await page.fill("textarea#body", "no token")
    async with page.expect_response(lambda r: r.request.method == "POST") as info:
        await page.click("button:has-text('Post Comment')")
    assert (await info.value).status == 400
    # Sent in place: the page stays, and says it was refused.
    await expect(page.locator(".toast")).to_contain_text("The request could not be understood.")
    await expect(page.locator(".comment")).to_have_count(0)
