"""Links that outlive a rename: an article's former slug answers 301 to its current URL, on the
site and the API (before: 404), and every other route there 308 (before: 404 for writes)."""

from __future__ import annotations

from typing import Any

import httpx
from quart import Quart
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import article_lists, articles
from tests.support.api import auth, new_article, register
from tests.support.site import make_article, make_user, post, sign_in


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


async def test_every_api_route_follows_an_old_slug_keeping_its_method(http: httpx.AsyncClient) -> None:
    """Before: only GET answered 301; favorite, comments, PUT and DELETE on the old slug were 404,
    so a client holding it broke on its next write. Writes answer 308 (method and body kept)."""
    token = await register(http, "holder")
    old = (await new_article(http, token, title="Before the rename"))["slug"]
    new = await _rename(http, token, old, "After the rename")
    base = f"/api/articles/{new}"
    for method, path, body in (("POST", "/favorite", None), ("DELETE", "/favorite", None),
                               ("POST", "/comments", {"comment": {"body": "still here"}}),
                               ("PUT", "", {"article": {"body": "edited"}})):
        answer = await http.request(method, f"/api/articles/{old}{path}", headers=auth(token), json=body)
        assert answer.status_code == 308, (method, path, answer.text)
        assert answer.headers["Location"].endswith(base + path)
        followed = await http.request(method, f"/api/articles/{old}{path}", headers=auth(token),
                                      json=body, follow_redirects=True)
        assert followed.status_code in (200, 201), (method, path, followed.text)
    comments = await http.get(f"/api/articles/{old}/comments?x=1")
    assert comments.status_code == 301 and comments.headers["Location"].endswith(f"{base}/comments?x=1")
    assert (await http.get(f"{base}/comments")).json()["comments"][0]["body"] == "still here"
    assert (await http.get(base)).json()["article"]["body"] == "edited"
    gone = await http.delete(f"/api/articles/{old}", headers=auth(token), follow_redirects=True)
    assert gone.status_code == 204
    assert (await http.post("/api/articles/never-was/favorite", headers=auth(token))).status_code == 404


async def test_the_sites_actions_follow_an_old_slug_too(client: Any, db: AsyncSession) -> None:
    author = await make_user(db, "siteholder")
    made = await make_article(db, author, "Site before")
    renamed = await articles.update_article(db, made.slug, author.id, title="Site after")
    await sign_in(client, "siteholder")
    answer = await post(client, f"/article/{made.slug}/favorite")
    assert answer.status_code == 308
    assert answer.headers["Location"].endswith(f"/article/{renamed.slug}/favorite")
    assert (await article_lists.get_article(db, renamed.slug)).favorites_count == 0  # not yet: redirected
