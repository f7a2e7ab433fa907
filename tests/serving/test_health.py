"""Liveness, readiness and the error contract, through the test clients and a live server."""

from __future__ import annotations

import asyncio

import httpx
from quart import Quart

from app import create_app
from app.infra.migrations import head_revision, upgrade


async def test_healthz_is_alive(client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok"}


async def test_readyz_reports_the_schema_revision(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "schema": head_revision()}


async def _readyz_of(app: Quart) -> tuple[int, dict[str, str]]:
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/readyz")
        return response.status_code, await response.get_json()


async def test_readyz_is_503_when_the_database_is_not_migrated(tmp_path) -> None:
    app = create_app({"env": "testing", "database_url": f"sqlite:///{tmp_path / 'empty.db'}"})
    status, body = await _readyz_of(app)
    assert status == 503
    assert body["status"] == "unavailable"
    assert "not migrated" in body["reason"]


async def test_readyz_is_503_when_the_schema_is_behind_the_code(tmp_path) -> None:
    """A deploy that skipped a migration is not ready (before: "ready" at 0002, while sign-in
    and every write failed on the missing rate_limits table)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    await asyncio.to_thread(upgrade, url, "0002")  # env.py runs its own loop
    status, body = await _readyz_of(create_app({"env": "testing", "database_url": url}))
    assert status == 503
    assert body["reason"] == (f"database schema is 0002, this code needs {head_revision()} "
                              "(run: quart --app app db upgrade)")


async def test_readyz_is_503_when_the_database_does_not_answer() -> None:
    app = create_app({"env": "testing",
                      "database_url": "postgresql+asyncpg://nobody@127.0.0.1:9/none"})
    status, body = await _readyz_of(app)
    assert status == 503
    assert body["reason"] == "database unavailable (ConnectionRefusedError)"


async def test_unknown_api_route_answers_json_404(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert "errors" in response.json()


async def test_unknown_page_answers_an_html_404(http: httpx.AsyncClient) -> None:
    response = await http.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "404 Not Found" in response.text
    assert "Traceback" not in response.text


async def test_wrong_method_answers_405_with_allow(http: httpx.AsyncClient) -> None:
    response = await http.post("/healthz", headers={"Accept": "application/json"})
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


async def test_live_server_serves_health_and_home_concurrently(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).json()["status"] == "ready"
        responses = await asyncio.gather(*(client.get("/") for _ in range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert all("Global Feed" in r.text for r in responses)
    assert "server" not in responses[0].headers  # Hypercorn served it, with no banner


async def test_home_page_renders_in_a_real_browser(live_server: str, page) -> None:
    response = await page.goto(live_server + "/")
    assert response is not None and response.status == 200
    assert await page.title() == "Conduit: a place to share your knowledge"
    assert await page.locator("h2", has_text="Global Feed").count() == 1
