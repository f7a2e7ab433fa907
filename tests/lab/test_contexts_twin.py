"""The WSGI twin under gunicorn's threaded worker: every request isolated, at most `threads` at once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page

from tests.support.lab import fire
from tests.support.servers import free_port, running_server

pytestmark = pytest.mark.once  # the contexts lab: backend-independent

ROOT = Path(__file__).resolve().parents[2]
THREADS = 8  # as `make twin` runs it


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """gunicorn --worker-class gthread, one worker, THREADS threads, on a free loopback port."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "1",
               "--threads", str(THREADS), "--bind", f"127.0.0.1:{port}", "--no-control-socket",
               "app.contexts.wsgi_twin:app"]
    base = f"http://127.0.0.1:{port}"
    with running_server(command, probe=f"{base}/contexts/echo?token=up", cwd=ROOT,
                        log=tmp_path_factory.mktemp("twin") / "gunicorn.log"):
        yield base


@pytest.mark.parametrize("endpoint", ["echo", "threadlocal"])
async def test_twin_isolates_every_request_on_no_more_threads_than_the_pool(twin: str, endpoint: str) -> None:
    batch = await fire(twin, endpoint, 200, 50)
    fields = ("g", "contextvar", "request_arg") if endpoint == "echo" else ("threadlocal",)
    for (token, _delay), answer in zip(batch.sent, batch.answers, strict=True):
        assert answer["token"] == token
        assert all(answer[name] == token for name in fields), answer  # even the threading.local
    threads = {answer["thread_id"] for answer in batch.answers}
    assert 2 <= len(threads) <= THREADS  # served by the pool, and never by more than it holds
    print(f"\ntwin {endpoint}: 200 requests, all isolated, {len(threads)} distinct threads")


async def test_twin_throughput_is_capped_at_threads_over_latency(twin: str, live_server: str) -> None:
    """Threads hold at most THREADS requests at once (so at most THREADS / latency per second);
    the event loop holds as many as arrive."""
    count, delay_ms = 160, 100
    threaded = await fire(twin, "echo", count, delay_ms, fixed_delay=True)
    looped = await fire(live_server, "echo", count, delay_ms, fixed_delay=True)
    assert len(threaded.in_flight) == len(looped.in_flight) == count
    assert max(threaded.in_flight) <= THREADS  # never more in flight than the pool has threads
    assert max(looped.in_flight) > THREADS  # one loop thread had more than that waiting at once
    print(f"\n{count} x {delay_ms} ms echo: twin ({THREADS} threads) {threaded.wall_s:.2f} s "
          f"= {count / threaded.wall_s:.0f} req/s (cap {THREADS / (delay_ms / 1000):.0f} req/s), "
          f"at most {max(threaded.in_flight)} in flight; Quart (1 worker) {looped.wall_s:.2f} s "
          f"= {count / looped.wall_s:.0f} req/s, at most {max(looped.in_flight)} in flight")


async def test_twin_rejects_bad_input_with_422(twin: str) -> None:
    async with httpx.AsyncClient(base_url=twin) as client:
        for url in ("/contexts/echo", "/contexts/threadlocal?token=a&delay_ms=10001",
                    "/contexts/blocking?ms=x"):
            response = await client.get(url)
            assert response.status_code == 422
            assert "errors" in response.json()
        allowed = await client.get("/contexts/echo?token=a")
        assert allowed.headers["Access-Control-Allow-Origin"] == "*"  # the lab page may call it


def test_importing_the_twin_builds_no_quart_app() -> None:
    code = ("import sys, app.contexts.wsgi_twin as twin; "
            "assert type(twin.app).__name__ == 'Flask'; "
            "assert 'app.serving.asgi' not in sys.modules and 'app.contexts.views' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


async def test_the_lab_page_runs_against_the_twin_without_leaks(page: Page, live_server: str,
                                                                twin: str) -> None:
    """The page's "WSGI twin" target (cross-origin fetches): under threads nothing leaks."""
    await page.goto(f"{live_server}/contexts")
    # The page aims at port 8001 (make twin); this test's twin listens on a free port instead.
    await page.locator("#contexts-lab").evaluate("(lab, port) => { lab.dataset.twinPort = port; }",
                                                 twin.rsplit(":", 1)[1])
    await page.select_option("#lab-target", "twin")
    await page.fill("#lab-count", "60")
    await page.fill("#lab-delay", "30")
    await page.click("#lab-run")
    await page.wait_for_selector('#contexts-lab[data-state="done"]', timeout=60_000)
    cell = page.locator('#lab-row-threadlocal [data-field="verified"]')
    assert await cell.inner_text() == "60"  # one request per thread: even threading.local holds
    assert await page.locator('#lab-row-echo [data-field="verified"]').inner_text() == "60"
    assert await page.locator('#lab-row-threadlocal [data-field="leaked"]').inner_text() == "0"
    threads = int(await page.locator('#lab-row-echo [data-field="threads"]').inner_text())
    assert 1 <= threads <= THREADS


async def test_the_lab_page_says_how_to_start_a_twin_that_is_not_running(page: Page,
                                                                         live_server: str) -> None:
    """Before, it fired every request at nothing and showed "0 leaked" in green."""
    await page.goto(f"{live_server}/contexts")
    await page.locator("#contexts-lab").evaluate("(lab, port) => { lab.dataset.twinPort = port; }",
                                                 str(free_port()))  # nothing listens there
    await page.select_option("#lab-target", "twin")
    await page.click("#lab-run")
    await page.wait_for_selector('#contexts-lab[data-state="done"]', timeout=60_000)
    assert "Start it in another terminal with: make twin" in await page.inner_text("#lab-status")
    assert await page.locator("#lab-results .lab-good").count() == 0
    never_filled = "\u2013"  # the page's placeholder dash
    assert await page.locator('#lab-row-echo [data-field="sent"]').inner_text() == never_filled
