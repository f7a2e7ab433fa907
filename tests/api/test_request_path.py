"""The lean request path: each face owns its hooks, reads and writes in one session without
depending on the HTTP method, statements per page, no thread hop on a page, and the RealWorld 2.0
contract details (stale tokens on /api/tags, empty updates, inline images, the OpenAPI document)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from quart import Quart
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.infra.database import get_database
from app.live import get_live
from app.site.rendering import cached_url_for
from tests.support.api import auth, errors, new_article, register
from tests.support.database import count_queries
from tests.support.site import make_article, make_user, post, sign_in


def test_no_hook_runs_app_wide(app: Quart) -> None:
    """The site's user loading and CSRF, the API's token auth and CORS, both faces' write limits:
    each on its own
    blueprints, so /healthz, /readyz and static files run none of them."""
    for hooks in (app.before_request_funcs, app.after_request_funcs, app.url_value_preprocessors):
        assert not hooks.get(None), hooks
    for name in ("site", "auth", "admin"):
        assert [f.__name__ for f in app.before_request_funcs[name]] == [
            "load_signed_in_user", "check_csrf", "limit_writes"]
    assert [f.__name__ for f in app.before_request_funcs["api"]] == ["load_user", "limit_writes"]
    assert [f.__name__ for f in app.after_request_funcs["api"]] == ["finish_response"]
    assert not app.before_request_funcs.get("health") and not app.after_request_funcs.get("health")


async def test_an_article_is_one_statement_and_its_page_two(app: Quart, client, db: AsyncSession,
                                                            http: httpx.AsyncClient) -> None:
    author = await make_user(db, "ann")
    made = await make_article(db, author, "One query", tags=("b", "a"))
    engine = get_database(app).engine
    assert engine is not None
    with count_queries(engine) as statements:
        answer = await http.get(f"/api/articles/{made.slug}")
    assert answer.json()["article"]["tagList"] == ["a", "b"]
    assert len(statements) == 1, statements
    get_live(app).hub.position_at = float("-inf")  # as a worker that has not read it this second
    with count_queries(engine) as statements:
        page = await client.get(f"/article/{made.slug}")
    assert page.status_code == 200
    # Where the page's live updates start (the newest event: one indexed lookup, read first so
    # nothing after it is missed, and at most once a second per worker), the article, then its
    # comments by the article's id.
    assert len(statements) == 3, statements
    assert "live_events" in statements[0] and "slug" not in statements[2]
    with count_queries(engine) as statements:
        await client.get(f"/article/{made.slug}")
    assert len(statements) == 2, statements  # the position read a moment ago is reused


async def test_pages_render_without_a_thread_hop(app: Quart, client, db: AsyncSession) -> None:
    """Nothing on a page that renders no new markdown is sent to the thread pool. Before, two
    plain (sync) template context processors were, on every render: the one Flask gives every
    blueprint, and quart-wtf's."""
    author = await make_user(db, "hop")
    made = await make_article(db, author, "Hop", body="plain")
    await client.get(f"/article/{made.slug}")  # the body's markdown is rendered (off the loop) once
    loop = asyncio.get_running_loop()
    hops: list[Any] = []
    original = loop.run_in_executor

    def counting(executor: Any, func: Any, *args: Any) -> Any:
        hops.append((func, args))
        return original(executor, func, *args)

    loop.run_in_executor = counting  # type: ignore[method-assign,assignment]
    try:
        for path in ("/", "/?tag=python", f"/article/{made.slug}", "/profile/hop", "/login"):
            assert (await client.get(path)).status_code == 200, path
        await sign_in(client, "hop")
        hops.clear()  # signing in hashes a password off the loop, as it should
        for path in ("/", f"/article/{made.slug}", "/settings", "/editor"):
            assert (await client.get(path)).status_code == 200, path
    finally:
        loop.run_in_executor = original  # type: ignore[method-assign]
    assert hops == []
    for processors in app.template_context_processors.values():
        assert all(asyncio.iscoroutinefunction(p) for p in processors), processors


async def test_a_read_never_waits_for_a_writer(app: Quart, client, db: AsyncSession) -> None:
    """Reads take no write lock, whatever the method: a sign-in (a POST that only reads) is
    answered while another connection holds a write transaction open (on SQLite, the write lock).
    Before, a POST's session began with BEGIN IMMEDIATE and waited for the lock, then failed."""
    await make_user(db, "reader")
    engine = get_database(app).engine
    assert engine is not None
    async with engine.connect() as writer:
        if writer.dialect.name == "sqlite":
            await writer.exec_driver_sql("BEGIN IMMEDIATE")
        else:  # out of the engine's autocommit default, so that the rollback below is real
            await writer.execution_options(isolation_level="READ COMMITTED")
            await writer.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
        try:
            response = await post(client, "/login", {"email": "reader@example.test",
                                                     "password": "wrong password"}, token_page="/login")
            assert response.status_code == 200
            assert "Wrong e-mail or password." in (await response.get_data()).decode()
        finally:
            await writer.rollback()


async def test_tags_ignore_a_stale_token(http: httpx.AsyncClient) -> None:
    """GET /api/tags needs no auth in the spec: a stale or broken token is not refused there."""
    token = await register(http, "stale")
    await new_article(http, token, tagList=["kept"])
    for header in ("Token not-a-jwt", "Bearer", "Token " + token[:-4] + "AAAA"):
        response = await http.get("/api/tags", headers={"Authorization": header})
        assert response.status_code == 200, header
        assert response.json() == {"tags": ["kept"]}
    broken = await http.get("/api/articles", headers={"Authorization": "Token not-a-jwt"})
    assert broken.status_code == 401  # where signing in changes the answer, a bad token is refused


async def test_put_user_with_nothing_to_change_is_422(http: httpx.AsyncClient) -> None:
    token = await register(http, "idle")
    response = await http.put("/api/user", headers=auth(token), json={"user": {}})
    assert response.status_code == 422
    assert errors(response) == {"user": ["must include at least one field to change"]}


async def test_an_inline_image_is_stored_and_shown_inert(http: httpx.AsyncClient, client,
                                                         db: AsyncSession) -> None:
    inline = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"
              "z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")
    token = await register(http, "pixel")
    stored = await http.put("/api/user", headers=auth(token), json={"user": {"image": inline}})
    assert stored.status_code == 200 and stored.json()["user"]["image"] == inline
    profile = await client.get("/profile/pixel")
    assert f'src="{inline}"' in (await profile.get_data()).decode()
    refused = await http.put("/api/user", headers=auth(token),
                             json={"user": {"image": "javascript:alert(1)"}})
    assert refused.status_code == 422 and list(errors(refused)) == ["image"]


async def test_openapi_follows_the_realworld_2_spec(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/api/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert sorted(schemas["NewUser"]["required"]) == ["email", "password", "username"]
    assert sorted(schemas["LoginUser"]["required"]) == ["email", "password"]
    assert sorted(schemas["NewArticle"]["required"]) == ["body", "description", "title"]
    assert schemas["NewComment"]["required"] == ["body"]
    assert schemas["CommentOut"]["properties"]["id"]["type"] == "integer"
    for name in ("CommentOut", "ArticleSummary", "ArticleOut"):
        assert schemas[name]["properties"]["createdAt"]["format"] == "date-time", name
        assert schemas[name]["properties"]["updatedAt"]["format"] == "date-time", name
    parameters = {p["name"]: p for p in spec["paths"]["/api/articles"]["get"]["parameters"]}
    assert parameters["limit"]["schema"]["minimum"] == 1
    assert parameters["offset"]["schema"]["minimum"] == 0
    assert parameters["offset"]["schema"]["maximum"] == 2**31 - 1
    delete = spec["paths"]["/api/articles/{slug}/comments/{comment_id}"]["delete"]
    (comment_id,) = [p for p in delete["parameters"] if p["name"] == "comment_id"]
    assert comment_id["schema"]["type"] == "integer"
    assert set(spec["paths"]["/api/articles/{slug}"]["put"]["responses"]) == {
        "200", "401", "403", "404", "409", "422", "default"}


@pytest.mark.parametrize(("endpoint", "values"), [
    ("site.home", {}), ("site.home", {"tag": "a b/c?"}), ("site.article", {"slug": "x-y"}),
    ("site.home", {"page": 3, "tag": "t"}), ("static", {"filename": "img/avatar.svg"}),
    ("site.article", {"slug": "s", "_anchor": "comments"}),
])
async def test_remembered_urls_are_the_urls(app: Quart, endpoint: str, values: dict[str, Any]) -> None:
    from quart import url_for

    async with app.test_request_context("/"):
        first = cached_url_for(endpoint, **values)
        assert first == url_for(endpoint, **values) == cached_url_for(endpoint, **values)


async def test_a_long_value_is_never_remembered(app: Quart) -> None:
    """A ``next`` a visitor typed must not fill the URL cache (20 KB an entry, 4,096 entries)."""
    from app.site import rendering

    async with app.test_request_context("/"):
        before = len(rendering._urls)
        url = cached_url_for("auth.login", next="/" + "x" * 5000)
        assert url.startswith("/login?next=") and len(url) > 5000
        assert len(rendering._urls) == before


async def test_the_lab_and_error_pages_know_who_is_signed_in(client, db: AsyncSession) -> None:
    await make_user(db, "navi")
    await sign_in(client, "navi")
    for path, status in (("/contexts", 200), ("/no/such/page", 404)):
        response = await client.get(path)
        assert response.status_code == status
        assert 'href="/profile/navi"' in (await response.get_data()).decode(), path


async def test_every_answer_carries_the_security_headers(app: Quart, client,
                                                         http: httpx.AsyncClient) -> None:
    answers = [await http.get("/"), await http.get("/api/tags"), await http.get("/no/such/page"),
               await http.get("/api/nothing"), await http.get("/static/site.css"),
               await http.get("/api/docs")]
    for answer in answers:
        headers = answer.headers
        policy = headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, answer.url
        assert "unsafe-inline" not in policy.replace("style-src-attr 'unsafe-inline'", "")
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "strict-transport-security" not in headers  # only in production (HTTPS)
    assert [a.status_code for a in answers] == [200, 200, 404, 404, 200, 200]
    assert "content-security-policy" not in (await http.get("/healthz")).headers  # a machine's probe


async def test_production_adds_hsts(database_url: str) -> None:
    from app import create_app

    production = create_app({"env": "production", "database_url": database_url,
                             "secret_key": "p" * 40})
    async with production.test_app():
        transport = httpx.ASGITransport(app=production)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://conduit.test") as http:
            answer = await http.get("/api/tags")
    assert answer.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


async def test_a_form_from_another_site_is_refused(client, db: AsyncSession) -> None:
    """A valid token is not enough: a POST whose Origin (or Referer) names another site is 403."""
    await make_user(db, "origin")
    await sign_in(client, "origin")
    token_page = await client.get("/settings")
    from tests.support.site import csrf_from

    token = csrf_from((await token_page.get_data()).decode())
    for header in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"},
                   {"Origin": "null"}):
        refused = await client.post("/logout", form={"csrf_token": token}, headers=header)
        assert refused.status_code == 403, header
    still_signed_in = await client.get("/settings")
    assert still_signed_in.status_code == 200
    same = await client.post("/logout", form={"csrf_token": token},
                             headers={"Origin": "http://localhost"})
    assert same.status_code == 302
