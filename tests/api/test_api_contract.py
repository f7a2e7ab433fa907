"""The API's cross-cutting contract: error shapes, bad input, CORS, OpenAPI, docs, query counts."""

from __future__ import annotations

import re

import httpx
import pytest
from quart import Quart
from sqlalchemy.ext.asyncio import AsyncSession

from app import create_app
from app.domain import article_lists, articles, favorites
from app.infra.database import get_database
from app.infra.settings import ConfigError, load_settings
from app.models import Article, utcnow
from tests.conftest import TEST_PASSWORD_HASH
from tests.support.api import JSON_TYPE, auth, errors, new_article, register
from tests.support.database import add_users, count_queries, recounted

# Bad input ----------------------------------------------------------------------------------


async def test_malformed_json_is_400_json(http: httpx.AsyncClient) -> None:
    for raw in ('{"user": ', "not json", "[" * 100_000, '{"a": ' + "1" * 5000 + "}"):
        response = await http.post("/api/users", content=raw,
                                   headers={"Content-Type": "application/json"})
        assert response.status_code == 400, raw[:20]
        assert errors(response) == {"body": ["is not valid JSON"]}


async def test_wrong_types_and_missing_wrappers_are_422(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    cases = [
        ("/api/users", {}, {"user": ["can't be blank"]}),
        ("/api/users", {"username": "a", "email": "a@b.test", "password": "x" * 8},
         {"user": ["can't be blank"]}),
        ("/api/users", {"user": "jake"}, {"user": ["must be an object"]}),
        ("/api/users", [1, 2], {"body": ["must be an object"]}),
        ("/api/users", {"user": {"email": 5, "username": "a", "password": "x" * 8}},
         {"email": ["must be a string"]}),
        ("/api/users/login", {"user": {"email": ["a"], "password": "x"}},
         {"email": ["must be a string"]}),
        ("/api/articles", {"article": {"title": 1, "description": "d", "body": "b"}},
         {"title": ["must be a string"]}),
        ("/api/articles", {"article": {"title": "t", "description": "d", "body": "b",
                                       "tagList": [1]}}, {"tagList": ["must be a string"]}),
    ]
    for path, body, expected in cases:
        response = await http.post(path, json=body, headers=auth(token))
        assert response.status_code == 422, (path, body)
        assert errors(response) == expected


async def test_empty_and_non_json_bodies(http: httpx.AsyncClient) -> None:
    empty = await http.post("/api/users", content=b"", headers={"Content-Type": "application/json"})
    assert empty.status_code == 422 and errors(empty) == {"body": ["can't be blank"]}
    form = await http.post("/api/users", content=b"user=jake",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415 and list(errors(form)) == ["body"]


async def test_nul_characters_are_refused_not_a_server_error(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    body = await http.post("/api/articles", headers=auth(token), json={"article": {
        "title": "a\x00b", "description": "d", "body": "b"}})
    assert body.status_code == 422 and list(errors(body)) == ["title"]
    path = await http.get("/api/profiles/ja%00ke")
    assert path.status_code == 404 and errors(path) == {"route": ["not found"]}
    query = await http.get("/api/articles?tag=a%00b")
    assert query.status_code == 422 and list(errors(query)) == ["tag"]


async def test_body_over_the_limit_is_413_json(http: httpx.AsyncClient, app: Quart) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    payload = '{"user": {"username": "' + "a" * limit + '"}}'
    response = await http.post("/api/users", content=payload,
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert list(errors(response)) == ["body"]


async def test_unknown_route_and_method_are_json(http: httpx.AsyncClient) -> None:
    for path in ("/api/nope", "/api", "/api/articles/a/b/c"):
        response = await http.get(path)
        assert response.status_code == 404
        assert errors(response) == {"route": ["not found"]}
    wrong = await http.patch("/api/user", json={})
    assert wrong.status_code == 405
    assert errors(wrong) == {"method": ["PATCH is not allowed here"]}
    assert set(wrong.headers["allow"].replace(" ", "").split(",")) >= {"GET", "PUT"}


async def test_a_server_error_is_json_and_says_nothing_inside(http: httpx.AsyncClient, app: Quart,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_args: object, **_kwargs: object) -> list[str]:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(article_lists, "tags_in_use", broken)
    response = await http.get("/api/tags")
    assert response.status_code == 500
    assert errors(response) == {"server": ["hit an error; it is logged"]}
    assert "secret" not in response.text


# Headers ------------------------------------------------------------------------------------


async def test_every_json_answer_says_utf8(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    slug = (await new_article(http, token))["slug"]
    for method, path in [("GET", "/api/articles"), ("GET", f"/api/articles/{slug}"),
                         ("GET", "/api/tags"), ("GET", "/api/profiles/jake"),
                         ("GET", "/api/user"), ("GET", "/api/openapi.json"),
                         ("GET", "/api/nope"), ("POST", f"/api/articles/{slug}/favorite")]:
        response = await http.request(method, path, headers=auth(token))
        assert response.headers["content-type"] == JSON_TYPE, path


async def test_cors_preflight_and_simple_requests(http: httpx.AsyncClient) -> None:
    origin = "http://localhost:4100"
    preflight = await http.options("/api/articles", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 204 and "content-type" not in preflight.headers  # no body
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    for path in ("/api/tags", "/api/nope"):
        response = await http.get(path, headers={"Origin": origin})
        assert response.headers["access-control-allow-origin"] == "*", path
    bad_token = await http.get("/api/articles", headers={"Origin": origin, **auth("bad")})
    assert bad_token.status_code == 401 and bad_token.headers["access-control-allow-origin"] == "*"
    site = await http.get("/healthz", headers={"Origin": origin})
    assert "access-control-allow-origin" not in site.headers


async def test_cors_origins_are_configurable(database_url: str) -> None:
    app = create_app({"env": "testing", "database_url": database_url,
                      "cors_origins": "https://app.example.com, http://localhost:4100"})
    async with app.test_app():
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            allowed = await client.get("/api/tags", headers={"Origin": "https://app.example.com"})
            refused = await client.get("/api/tags", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in refused.headers


def test_api_settings_are_validated() -> None:
    settings = load_settings(environ={"CONDUIT_JWT_EXPIRY_SECONDS": "3600",
                                      "CONDUIT_CORS_ORIGINS": "https://a.example,http://b:3000"})
    assert settings.jwt_expiry_seconds == 3600
    assert settings.cors_origin_list == ["https://a.example", "http://b:3000"]
    for environ in ({"CONDUIT_JWT_EXPIRY_SECONDS": "0"}, {"CONDUIT_JWT_EXPIRY_SECONDS": "soon"},
                    {"CONDUIT_CORS_ORIGINS": "a.example"}, {"CONDUIT_CORS_ORIGINS": ""},
                    {"CONDUIT_CORS_ORIGINS": "https://a.example/path"}):
        with pytest.raises(ConfigError):
            load_settings(environ=environ)


# OpenAPI and docs ---------------------------------------------------------------------------


async def test_openapi_documents_the_api_only(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    paths = spec["paths"]
    assert all(path.startswith("/api/") for path in paths)
    for path, verbs in [("/api/users", {"post"}), ("/api/users/login", {"post"}),
                        ("/api/user", {"get", "put"}), ("/api/profiles/{username}", {"get"}),
                        ("/api/profiles/{username}/follow", {"post", "delete"}),
                        ("/api/articles", {"get", "post"}), ("/api/articles/feed", {"get"}),
                        ("/api/articles/{slug}", {"get", "put", "delete"}),
                        ("/api/articles/{slug}/comments", {"get", "post"}),
                        ("/api/articles/{slug}/comments/{comment_id}", {"delete"}),
                        ("/api/articles/{slug}/favorite", {"post", "delete"}),
                        ("/api/tags", {"get"})]:
        assert verbs <= set(paths[path]), path
    assert paths["/api/user"]["get"]["security"] == [{"Token": []}]
    assert "security" not in paths["/api/articles"]["get"]
    assert "requestBody" in paths["/api/articles"]["post"]
    assert "NewArticle" in spec["components"]["schemas"]
    assert set(paths["/api/articles"]["post"]["responses"]) >= {"201"}
    # Every operation names at least one answer (OpenAPI requires it) and documents its errors.
    for verbs in paths.values():
        for operation in verbs.values():
            assert operation["responses"]["default"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorsOut"}
    # The error statuses the RealWorld 2.0 spec lists for each operation, and 204 for the deletes.
    assert set(paths["/api/articles/{slug}"]["delete"]["responses"]) == {
        "204", "401", "403", "404", "422", "default"}
    assert set(paths["/api/users/login"]["post"]["responses"]) == {"200", "401", "422", "default"}
    assert set(paths["/api/users"]["post"]["responses"]) == {"201", "409", "422", "default"}
    assert set(paths["/api/tags"]["get"]["responses"]) == {"200", "422", "default"}
    assert spec["components"]["schemas"]["ErrorsOut"]["required"] == ["errors"]


async def test_docs_page_is_self_contained(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    # Nothing is loaded from elsewhere (no external script, stylesheet or font) and nothing is
    # inline (the Content-Security-Policy allows scripts and styles from this site's files only).
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"(https?:)?//", page)
    assert "<script" not in page and "<style>" not in page  # no script at all: readable without
    assert (await http.get("/static/api-docs/docs.css")).status_code == 200
    # Every operation is on the page as sent (before, a script fetched and drew them).
    spec = (await http.get("/api/openapi.json")).json()
    count = sum(verb in ("get", "post", "put", "delete") for ops in spec["paths"].values() for verb in ops)
    assert page.count("<details>") == count > 15
    assert '<span class="verb post">POST</span> /api/users/login' in page
    assert '<a href="/">&larr; Back to the Conduit site</a>' in page  # a way back
    assert not re.search("[\U0001F300-\U0001FAFF\u2600-\u27BF]", page)  # no emoji glyphs
    assert "needs a token" in page


# Query counts -------------------------------------------------------------------------------


async def _many_articles(db: AsyncSession, count: int) -> list[int]:
    people = await add_users(db, count, TEST_PASSWORD_HASH, prefix="writer")
    for i, author_id in enumerate(people):
        view = await articles.create_article(db, author_id, title=f"Story {i}", description="d",
                                             body="b", tags=[f"tag{i}", "common"])
        await favorites.favorite(db, people[(i + 1) % count], view.slug)
    return people


async def test_list_and_feed_use_a_bounded_number_of_queries(http: httpx.AsyncClient, app: Quart,
                                                             db: AsyncSession) -> None:
    people = await _many_articles(db, 30)
    token = await register(http, "reader")
    for username in [f"writer{i}" for i in range(30)]:
        await http.post(f"/api/profiles/{username}/follow", headers=auth(token))
    engine = get_database(app).engine
    assert engine is not None and len(people) == 30

    async def queries(path: str, limit: int) -> int:
        with count_queries(engine) as statements:
            response = await http.get(path, params={"limit": limit}, headers=auth(token))
        assert response.status_code == 200
        assert len(response.json()["articles"]) == limit
        return len(statements)

    for path in ("/api/articles", "/api/articles/feed"):
        small, large = await queries(path, 2), await queries(path, 25)
        assert small == large, path
        assert large <= 5, path  # the user, the page, its tags, the count (+ slack of one)


async def test_list_is_right_about_flags_for_the_viewer(http: httpx.AsyncClient, db: AsyncSession
                                                        ) -> None:
    [writer] = await add_users(db, 1, TEST_PASSWORD_HASH, prefix="writer")
    now = utcnow()
    db.add(Article(slug="s", title="S", description="d", body="b", author_id=writer,
                   created_at=now, updated_at=now))
    await db.commit()
    await recounted(db)
    token = await register(http, "reader")
    await http.post("/api/articles/s/favorite", headers=auth(token))
    await http.post("/api/profiles/writer0/follow", headers=auth(token))
    mine = (await http.get("/api/articles", headers=auth(token))).json()["articles"][0]
    theirs = (await http.get("/api/articles")).json()["articles"][0]
    assert (mine["favorited"], mine["author"]["following"], mine["favoritesCount"]) == (True, True, 1)
    assert (theirs["favorited"], theirs["author"]["following"], theirs["favoritesCount"]) == (
        False, False, 1)


async def test_options_on_the_feed_allows_only_what_the_feed_allows(http: httpx.AsyncClient) -> None:
    """Before: "Allow: OPTIONS, GET, DELETE, HEAD, PUT" (the route of an article matched too)."""
    answer = await http.options("/api/articles/feed")
    assert set(answer.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}
    article = await http.options("/api/articles/some-slug")
    assert {"GET", "PUT", "DELETE"} <= set(article.headers["Allow"].replace(" ", "").split(","))
