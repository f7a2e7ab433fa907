"""Links that outlive a rename: an article's former slug answers 301 to its current URL, on the
site and the API (before: 404)."""

from __future__ import annotations

import httpx
from quart import Quart
from sqlalchemy.ext.asyncio import AsyncSession

from tests.api_helpers import auth, new_article, register


async def _rename(http: httpx.AsyncClient, token: str, slug: str, title: str) -> str:
    answer = await http.put(f"/api/articles/{slug}", headers=auth(token),
                            json={"article": {"title": title}})
    assert answer.status_code == 200, answer.text
    new: str = answer.json()["article"]["slug"]
    return new


async def test_a_renamed_article_keeps_its_old_links(app: Quart, http: httpx.AsyncClient,
                                                     db: AsyncSession) -> None:
    token = await register(http, "renamer")
    first = (await new_article(http, token, title="First title"))["slug"]
    second = await _rename(http, token, first, "Second title")
    third = await _rename(http, token, second, "Third title")
    assert (first, second, third) == ("first-title", "second-title", "third-title")
    for old in (first, second):
        api = await http.get(f"/api/articles/{old}")
        assert api.status_code == 301
        assert api.headers["Location"].endswith(f"/api/articles/{third}")
        page = await http.get(f"/article/{old}")
        assert page.status_code == 301
        assert page.headers["Location"].endswith(f"/article/{third}")
    followed = await http.get(f"/api/articles/{first}", follow_redirects=True)
    assert followed.json()["article"]["title"] == "Third title"
    # Never a slug that never was, and the current one is answered directly.
    assert (await http.get("/api/articles/never-was")).status_code == 404
    assert (await http.get("/article/never-was")).status_code == 404
    assert (await http.get(f"/api/articles/{third}")).status_code == 200


async def test_an_old_slug_taken_by_a_new_article_is_that_articles(http: httpx.AsyncClient) -> None:
    token = await register(http, "reuser")
    old = (await new_article(http, token, title="Shared name"))["slug"]
    await _rename(http, token, old, "Moved on")
    again = (await new_article(http, token, title="Shared name"))["slug"]
    assert again == old  # the slug was free again
    answer = await http.get(f"/api/articles/{old}")
    assert answer.status_code == 200 and answer.json()["article"]["title"] == "Shared name"


async def test_deleting_the_article_ends_its_redirects(http: httpx.AsyncClient) -> None:
    token = await register(http, "deleter")
    old = (await new_article(http, token, title="Short lived"))["slug"]
    new = await _rename(http, token, old, "Renamed then gone")
    assert (await http.delete(f"/api/articles/{new}", headers=auth(token))).status_code == 204
    assert (await http.get(f"/api/articles/{old}")).status_code == 404
