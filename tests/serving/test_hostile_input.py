"""Hostile input found in review: every case answers 4xx on both faces, never a 500, and never
reaches the database. Rules live in the domain, so the site and the API share them."""

from __future__ import annotations

import asyncio
import json
import threading
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import Invalid, InvalidCredentials, NotFound, article_lists, articles, users
from app.site import rendering
from tests.support.api import auth, errors, new_article, register
from tests.support.site import make_article, make_user, post, sign_in

SURROGATE = "\\ud800"  # as JSON text: a lone UTF-16 surrogate no driver can encode


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/users", '{"user":{"username":"zz","email":"z@x.io","password":"%sxxxxxxxxx"}}',
     "password"),
    ("/api/users", '{"user":{"username":"zz","email":"a%s@x.io","password":"xxxxxxxxxx"}}',
     "email"),
])
async def test_lone_surrogates_are_refused_not_a_500(http: httpx.AsyncClient, path: str, body: str,
                                                     field: str) -> None:
    response = await http.post(path, content=(body % SURROGATE).encode(),
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert field in errors(response)


async def test_surrogates_in_articles_profile_and_login(http: httpx.AsyncClient) -> None:
    token = await register(http, "writer")
    headers = {**auth(token), "Content-Type": "application/json"}
    bad_article = (f'{{"article":{{"title":"t{SURROGATE}","description":"d","body":"b","tagList":["x"]}}}}')
    response = await http.post("/api/articles", content=bad_article.encode(), headers=headers)
    assert response.status_code == 422 and "title" in errors(response)
    bad_tag = f'{{"article":{{"title":"t","description":"d","body":"b","tagList":["x{SURROGATE}"]}}}}'
    response = await http.post("/api/articles", content=bad_tag.encode(), headers=headers)
    assert response.status_code == 422 and "tagList" in errors(response)
    response = await http.put("/api/user", content=(f'{{"user":{{"bio":"{SURROGATE}"}}}}').encode(),
                              headers=headers)
    assert response.status_code == 422 and "bio" in errors(response)
    login = f'{{"user":{{"email":"a{SURROGATE}@x.io","password":"whatever1"}}}}'
    response = await http.post("/api/users/login", content=login.encode(),
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 401


async def test_a_body_that_is_not_utf8_is_a_400(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/users", content=b"\xff\xfe{",
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert errors(response)


@pytest.mark.parametrize("name", ["Émile", "..", ".", "-_-", "a b"])
async def test_usernames_are_ascii_with_a_letter_or_digit(db: AsyncSession, name: str) -> None:
    with pytest.raises(Invalid) as caught:
        await users.register(db, username=name, email="x@example.test", password="long-enough")
    assert "username" in caught.value.errors


async def test_lookups_with_nul_find_nothing_without_asking_the_database(db: AsyncSession) -> None:
    author = await make_user(db, "author")
    await make_article(db, author, "Real")
    with pytest.raises(NotFound):
        await users.get_profile(db, "a\x00b")
    with pytest.raises(NotFound):
        await article_lists.get_article(db, "real\x00")
    assert (await article_lists.list_articles(db, tag="py\x00thon")).total == 0
    assert (await article_lists.list_articles(db, author="auth\x00or")).total == 0
    with pytest.raises(InvalidCredentials):
        await users.authenticate(db, email="author@example.test", password="pass\x00word")


async def test_empty_filters_are_no_filter(db: AsyncSession) -> None:
    author = await make_user(db, "author")
    await make_article(db, author, "One")
    page = await article_lists.list_articles(db, tag="", author="", favorited="")
    assert page.total == 1


async def test_paging_and_ids_are_bounded(db: AsyncSession, client) -> None:
    with pytest.raises(Invalid):
        await article_lists.list_articles(db, offset=2**31)
    for path in ("/?page=99999999999999999999", "/profile/nobody?page=4611686018427387904"):
        response = await client.get(path)
        assert response.status_code in (200, 404), path
    author = await make_user(db, "author")
    made = await make_article(db, author, "Commented")
    await db.rollback()
    await sign_in(client, "author")
    response = await post(client, f"/article/{made.slug}/comments/99999999999999999999999/delete")
    assert response.status_code == 404


async def test_image_must_be_a_web_address_or_an_inline_raster_image(db: AsyncSession) -> None:
    account = await make_user(db, "pic")
    for hostile in ("javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=",
                    "data:image/svg+xml;base64,PHN2Zz4=", "data:image/png,<script>"):
        with pytest.raises(Invalid) as caught:
            await users.update_account(db, account.id, image=hostile)
        assert caught.value.errors == {"image": [
            "must be an http:// or https:// address, or a data:image/png, jpeg, gif or webp URL "
            "in base64"]}, hostile
    inline = "data:image/png;base64,iVBORw0KGgo="
    assert (await users.update_account(db, account.id, image=inline)).image == inline
    updated = await users.update_account(db, account.id, image=" https://img.example/a.png ")
    assert updated.image == "https://img.example/a.png"


async def test_site_forms_refuse_nul_with_an_error_beside_the_field(db: AsyncSession,
                                                                    client) -> None:
    await make_user(db, "writer")
    await db.rollback()
    await sign_in(client, "writer")
    response = await post(client, "/editor", {"title": "a\x00b", "description": "d",
                                              "body": "b", "tags": ""}, token_page="/editor")
    assert response.status_code == 200
    assert "contains characters that are not allowed" in await response.get_data(as_text=True)


async def test_article_markdown_is_rendered_off_the_event_loop(db: AsyncSession, client,
                                                               monkeypatch) -> None:
    seen: list[int] = []
    real = rendering._render

    def spying(source: str):
        seen.append(threading.get_ident())
        return real(source)

    monkeypatch.setattr(rendering, "_render", spying)
    author = await make_user(db, "author")
    made = await make_article(db, author, "Rendered", body="A *fresh* body nobody rendered yet.")
    await db.rollback()
    response = await client.get(f"/article/{made.slug}")
    assert response.status_code == 200
    assert "<em>fresh</em>" in await response.get_data(as_text=True)
    assert seen and threading.get_ident() not in seen


async def test_api_article_with_nul_slug_is_404(http: httpx.AsyncClient) -> None:
    token = await register(http, "nuller")
    await new_article(http, token, title="Plain")
    response = await http.get("/api/articles/plain%00")
    assert response.status_code == 404


async def _raw(live_server: str, request: str) -> tuple[bytes, bytes]:
    """One request written by hand (headers no client library would send); the head and body."""
    split = urlsplit(live_server)
    reader, writer = await asyncio.open_connection(split.hostname, split.port)
    try:
        writer.write(request.encode())
        await writer.drain()
        head, _, body = (await reader.read()).partition(b"\r\n\r\n")
    finally:
        writer.close()
    return head, body


@pytest.mark.parametrize("host", ["a..b", "a" * 64 + ".test", ".x"])
async def test_a_host_header_werkzeug_cannot_bind_is_400_not_an_empty_500(live_server: str,
                                                                          host: str) -> None:
    head, body = await _raw(live_server, f"GET /api/tags HTTP/1.1\r\nHost: {host}\r\n"
                                         "Connection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert json.loads(body) == {"errors": {"host": ["is not a valid host name"]}}
    head, body = await _raw(live_server, f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"text/plain" in head
    assert b"Host header is not a valid host name" in body


async def test_a_websocket_handshake_is_refused_not_an_empty_500(live_server: str) -> None:
    host = urlsplit(live_server).netloc
    head, _ = await _raw(live_server, f"GET /api/tags HTTP/1.1\r\nHost: {host}\r\n"
                                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                      "Sec-WebSocket-Version: 13\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403"), head


async def test_no_content_answers_carry_no_body_headers(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server) as client:
        token = await register(client, "deleter")
        slug = (await new_article(client, token, title="Short lived"))["slug"]
        for response in [await client.delete(f"/api/articles/{slug}", headers=auth(token)),
                         await client.options("/api/articles")]:
            assert response.status_code == 204
            assert "content-type" not in response.headers
            assert "content-length" not in response.headers


async def test_an_empty_path_segment_is_404_never_redirected_to_another_route(
        http: httpx.AsyncClient) -> None:
    # Merged slashes would send DELETE /api/articles//favorite to DELETE /api/articles/favorite
    # (a 308 keeps the method): an article titled "Favorite" would be deleted.
    token = await register(http, "writer")
    await new_article(http, token, title="Favorite")
    for method, path in [("DELETE", "/api/articles//favorite"), ("GET", "/api//tags"),
                         ("POST", "/api/profiles//follow"), ("GET", "/api/articles//comments")]:
        response = await http.request(method, path, headers=auth(token))
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert (await http.get("/api/articles/favorite")).status_code == 200


async def test_a_huge_tag_list_is_refused_at_the_first_tag_too_many(http: httpx.AsyncClient) -> None:
    # (100,000 distinct tags once took a worker a minute: de-duplicating with a list was quadratic.)
    token = await register(http, "tagger")
    article = {"title": "t", "description": "d", "body": "b", "tagList": [str(i) for i in range(100_000)]}
    response = await http.post("/api/articles", headers=auth(token), json={"article": article})
    assert response.status_code == 422 and errors(response) == {"tagList": ["at most 20 tags"]}
    with pytest.raises(Invalid):
        articles.clean_tags([f"tag{i}" for i in range(21)])  # 21 distinct: one too many
    assert articles.clean_tags(["a", "b", "a"] * 6) == ["a", "b"]  # a repeat is kept once
    with pytest.raises(Invalid):  # but counts, as given, towards the 20 (the API documents maxItems)
        articles.clean_tags(["a"] * 21)


async def test_a_repeated_query_parameter_is_named_in_the_error(http: httpx.AsyncClient) -> None:
    for query, name in [("tag=a&tag=b", "tag"), ("offset=1&offset=-1", "offset")]:
        response = await http.get(f"/api/articles?{query}")
        assert response.status_code == 422 and errors(response) == {name: ["must be given once"]}
