"""The lab page in headless Chromium against a live Hypercorn worker."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.once  # the contexts lab: backend-independent

SENT = 300


async def _cell(page: Page, endpoint: str, field: str) -> str:
    return await page.locator(f'#lab-row-{endpoint} [data-field="{field}"]').inner_text()


async def test_the_lab_button_verifies_every_echo_and_shows_threadlocal_leaks(page: Page,
                                                                              live_server: str) -> None:
    await page.goto(f"{live_server}/contexts")
    assert await page.locator("#lab-doc h1").inner_text() == "Contexts: a task versus a thread"
    await page.fill("#lab-count", str(SENT))
    await page.fill("#lab-delay", "60")
    await page.click("#lab-run")
    await page.wait_for_selector('#contexts-lab[data-state="done"]', timeout=120_000)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "contexts-lab.png"), full_page=False)

    assert int(await _cell(page, "echo", "sent")) == SENT
    assert int(await _cell(page, "echo", "verified")) == SENT
    assert int(await _cell(page, "echo", "leaked")) == 0
    assert int(await _cell(page, "threadlocal", "failed")) == 0
    leaked = int(await _cell(page, "threadlocal", "leaked"))
    assert leaked > 0
    assert leaked + int(await _cell(page, "threadlocal", "verified")) == SENT
    assert int(await _cell(page, "echo", "threads")) == 1  # one worker, one loop thread
    assert int(await _cell(page, "echo", "tasks")) == SENT


async def test_the_background_button_shows_what_each_job_saw(page: Page, live_server: str) -> None:
    await page.goto(f"{live_server}/contexts")
    await page.click("#lab-background")
    await page.wait_for_selector('#contexts-lab[data-background-state="done"]', timeout=30_000)
    rows = page.locator("#lab-background-results tbody tr")
    assert await rows.count() == 4
    create_task = page.locator('#lab-background-results tr[data-job="create_task"] td')
    add_task = page.locator('#lab-background-results tr[data-job="add_background_task"] td')
    assert await create_task.nth(1).inner_text() == "yes"  # the same g as the request
    assert await add_task.nth(0).inner_text() == "—"  # an empty g
    assert await add_task.nth(1).inner_text() == "no"
