"""Error pages in the site's look (400, 403, 404, 405, 413, 500), never with a stack trace."""

from __future__ import annotations

import pytest
from quart import Quart
from sqlalchemy.ext.asyncio import AsyncSession

from app import create_app
from tests.support.site import make_article, make_user, post, sign_in

pytestmark = pytest.mark.once  # the error pages: backend-independent

HTML = {"Accept": "text/html"}


def _assert_error_page(html: str, heading: str) -> None:
    assert f"<title>{heading} — Conduit</title>" in html
    assert heading in html
    assert 'href="/static/site.css"' in html  # the site's look
    assert 'class="navbar-brand"' in html
    assert "Traceback" not in html and 'File "' not in html


async def test_404_page(client) -> None:
    response = await client.get("/no-such-page", headers=HTML)
    assert response.status_code == 404
    _assert_error_page((await response.get_data()).decode(), "404 Not Found")


async def test_405_page(client) -> None:
    response = await client.get("/logout", headers=HTML)
    assert response.status_code == 405
    _assert_error_page((await response.get_data()).decode(), "405 Method Not Allowed")


async def test_400_page_for_a_missing_csrf_token(client) -> None:
    response = await client.post("/login", form={"email": "a@b.c", "password": "x"}, headers=HTML)
    assert response.status_code == 400
    html = (await response.get_data()).decode()
    _assert_error_page(html, "400 Bad Request")
    assert "CSRF" in html


async def test_403_page(client, db: AsyncSession) -> None:
    owner = await make_user(db, "owner")
    await make_user(db, "other")
    view = await make_article(db, owner, "Mine")
    await sign_in(client, "other")
    response = await client.get(f"/editor/{view.slug}", headers=HTML)
    assert response.status_code == 403
    html = (await response.get_data()).decode()
    _assert_error_page(html, "403 Forbidden")
    assert 'href="/profile/other"' in html  # still signed in, navigation intact


async def test_413_page(app: Quart, client, db: AsyncSession) -> None:
    await make_user(db, "big")
    await sign_in(client, "big")
    too_big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = await post(client, "/editor", {"title": "T", "description": "d", "body": too_big},
                          token_page="/editor")
    assert response.status_code == 413
    _assert_error_page((await response.get_data()).decode(), "413 Request Entity Too Large")


async def test_500_page_has_no_stack_trace(database_url: str) -> None:
    broken = create_app({"env": "testing", "database_url": database_url})

    @broken.get("/boom")
    async def boom() -> str:
        raise RuntimeError("secret internals")

    async with broken.test_app() as test_app:
        response = await test_app.test_client().get("/boom", headers=HTML)
    assert response.status_code == 500
    html = await response.get_data(as_text=True)
    _assert_error_page(html, "500 Internal Server Error")
    assert "secret internals" not in html
