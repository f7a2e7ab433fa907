"""Every page of the site passes axe-core (injected from node_modules, npm's axe-core) with no
serious or critical violation, and fits a 375 px phone screen with no horizontal scroll: in real
Chromium against Hypercorn, anonymous, signed in and as an administrator."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page
from sqlalchemy.ext.asyncio import AsyncSession

from app.commands.demo_data import seed
from app.domain import users
from tests.conftest import ROOT, TEST_PASSWORD
from tests.support.site import make_article, make_user

pytestmark = pytest.mark.once  # the pages in a browser: backend-independent

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.id} (${v.impact}): ${v.nodes.length} nodes, e.g. ${v.nodes[0].target.join(" ")}`);
}"""
ANONYMOUS = ["/", "/?tag=python", "/?page=2", "/article/{slug}", "/profile/author", "/login",
             "/register", "/contexts", "/no/such/page"]
SIGNED_IN = ["/", "/?feed=following", "/editor", "/editor/{slug}", "/settings", "/article/{slug}",
             "/admin/", "/admin/articles", "/admin/comments"]


async def _site(db: AsyncSession) -> str:
    await seed(db, users=4, articles=14, comments=2)  # more than one page of articles
    author = await make_user(db, "author")
    await users.set_admin(db, "author", True)
    made = await make_article(db, author, "Accessible by default", body="Some **markdown**.",
                              tags=("python", "a11y"))
    return made.slug


async def _sign_in(page: Page, base: str) -> None:
    await page.goto(base + "/login")
    await page.fill("#email", "author@example.test")
    await page.fill("#password", TEST_PASSWORD)
    await page.click("form button:has-text('Sign in')")
    await page.wait_for_url(base + "/")


async def _check(page: Page, base: str, paths: list[str], slug: str) -> list[str]:
    problems = []
    source = AXE.read_text()
    for path in paths:
        await page.goto(base + path.format(slug=slug))
        await page.evaluate(source)
        for violation in await page.evaluate(RUN_AXE):
            problems.append(f"{path}: {violation}")
        overflow = await page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 0:
            problems.append(f"{path}: {overflow} px of horizontal scroll at "
                            f"{page.viewport_size}")
    return problems


async def test_every_page_passes_axe_at_desktop_and_phone_widths(
        live_server: str, browser: Browser, db: AsyncSession) -> None:
    assert AXE.exists(), "make test installs axe-core (npm ci)"
    slug = await _site(db)
    problems = []
    for width in (1280, 375):
        # The CSP forbids injected script; the test lifts it for axe alone.
        context = await browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
        page = await context.new_page()
        problems += await _check(page, live_server, ANONYMOUS, slug)
        await _sign_in(page, live_server)
        problems += await _check(page, live_server, SIGNED_IN, slug)
        await context.close()
    assert problems == [], "\n".join(problems)


def test_axe_core_is_pinned() -> None:
    assert '"axe-core": "4.14.1"' in Path(ROOT / "package.json").read_text()


FITS = """() => {
  const width = document.documentElement.clientWidth;
  const cramped = [...document.querySelectorAll("td, th, input, button, .lab-results")]
    .filter(el => el.offsetParent !== null && !el.closest("thead"))  // headers: hidden, as labels
    .filter(el => el.scrollWidth > el.clientWidth + 1 || el.getBoundingClientRect().right > width + 1)
    .map(el => el.outerHTML.slice(0, 80));
  return cramped;
}"""


async def test_admin_and_lab_are_usable_at_360_px(live_server: str, browser: Browser,
                                                  db: AsyncSession) -> None:
    """Before: the admin table's columns collided and the lab's table was clipped."""
    await _site(db)
    context = await browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = await context.new_page()
        await _sign_in(page, live_server)
        for path in ("/admin/", "/admin/articles", "/admin/comments", "/contexts"):
            await page.goto(live_server + path)
            assert await page.evaluate(FITS) == [], path
        # The lab's number inputs look like the site's fields (before: the browser's bare boxes).
        border = await page.eval_on_selector("#lab-count", "el => getComputedStyle(el).borderTopWidth")
        assert border == "1px"
        # A row of an admin table reads as label: value.
        await page.goto(live_server + "/admin/articles")
        label = await page.eval_on_selector(
            "td[data-label=Author]", "el => getComputedStyle(el, '::before').content")
        assert label == '"Author"'
    finally:
        await context.close()
