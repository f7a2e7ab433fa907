"""The API through a real Hypercorn server: many users favoriting one article at once."""

from __future__ import annotations

import asyncio

import httpx
from playwright.async_api import Page
from quart import Quart
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.tokens import issue_token
from app.domain import articles, users
from app.infra.settings import Settings
from tests.conftest import TEST_PASSWORD_HASH
from tests.support.api import JSON_TYPE, auth
from tests.support.database import add_users

FANS = 100


async def test_concurrent_favorites_give_an_exact_count(live_server: str, app: Quart,
                                                        db: AsyncSession) -> None:
    settings: Settings = app.config["CONDUIT"]  # the live server reads the same environment
    people = await add_users(db, FANS + 1, TEST_PASSWORD_HASH, prefix="fan")
    article = await articles.create_article(db, people[0], title="Popular", description="d",
                                            body="b", tags=[])
    fans = [await users.get_account(db, user_id) for user_id in people[1:]]
    tokens = [issue_token(settings, fan) for fan in fans if fan is not None]
    limits = httpx.Limits(max_connections=FANS)
    async with httpx.AsyncClient(base_url=live_server, limits=limits, timeout=120) as client:
        answers = await asyncio.gather(*(
            client.post(f"/api/articles/{article.slug}/favorite", headers=auth(token))
            for token in tokens))
        assert [r.status_code for r in answers] == [200] * FANS
        assert all(r.headers["content-type"] == JSON_TYPE for r in answers)
        assert all(r.json()["article"]["favorited"] is True for r in answers)
        # Each answer counts at least its own favorite (others may not have committed yet).
        counts = [r.json()["article"]["favoritesCount"] for r in answers]
        assert min(counts) >= 1 and max(counts) <= FANS
        final = await client.get(f"/api/articles/{article.slug}")
        assert final.json()["article"]["favoritesCount"] == FANS

        # Half of them take it back at the same time.
        await asyncio.gather(*(
            client.delete(f"/api/articles/{article.slug}/favorite", headers=auth(token))
            for token in tokens[: FANS // 2]))
        after = await client.get(f"/api/articles/{article.slug}")
        assert after.json()["article"]["favoritesCount"] == FANS - FANS // 2


async def test_register_then_login_over_the_live_server(live_server: str, app: Quart) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        created = await client.post("/api/users", json={"user": {
            "username": "livejake", "email": "live@example.test", "password": "jakejakejake"}})
        assert created.status_code == 201
        login = await client.post("/api/users/login", json={"user": {
            "email": "live@example.test", "password": "jakejakejake"}})
        assert login.status_code == 200
        me = await client.get("/api/user", headers=auth(login.json()["user"]["token"]))
        assert me.json()["user"]["username"] == "livejake"
        deleted = await client.delete("/api/articles/nope", headers=auth(login.json()["user"]["token"]))
        assert deleted.status_code == 404


async def test_docs_page_renders_every_operation_offline(live_server: str, page: Page) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    await page.goto(f"{live_server}/api/docs")
    await page.wait_for_selector("#ops details")
    summaries = await page.locator("#ops summary").all_inner_texts()
    operations = {" ".join(text.split()[:2]) for text in summaries}
    assert {"GET /api/articles", "POST /api/users", "DELETE /api/articles/{slug}/comments/{comment_id}",
            "GET /api/tags"} <= operations
    assert len(summaries) == 19  # every endpoint of the spec, each method once
    assert requested and all(url.startswith(live_server) for url in requested)
    assert not any(url.endswith(".js") for url in requested)  # rendered on the server
