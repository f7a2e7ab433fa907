"""The API's articles, feed, favorites, comments and tags."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Article, utcnow
from tests.conftest import TEST_PASSWORD_HASH
from tests.support.api import JSON_TYPE, auth, errors, new_article, register
from tests.support.database import add_users, recounted

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ARTICLE_KEYS = {"slug", "title", "description", "body", "tagList", "createdAt", "updatedAt",
                "favorited", "favoritesCount", "author"}


async def test_create_article_is_201_with_the_full_article(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    response = await http.post("/api/articles", headers=auth(token), json={"article": {
        "title": "How to train your dragon", "description": "Ever wonder how?",
        "body": "You have to believe", "tagList": ["reactjs", "angularjs", "dragons"]}})
    assert response.status_code == 201
    assert response.headers["content-type"] == JSON_TYPE
    article = response.json()["article"]
    assert set(article) == ARTICLE_KEYS
    assert article["slug"] == "how-to-train-your-dragon"
    assert sorted(article["tagList"]) == ["angularjs", "dragons", "reactjs"]
    assert TIMESTAMP.match(article["createdAt"]) and TIMESTAMP.match(article["updatedAt"])
    assert (article["favorited"], article["favoritesCount"]) == (False, 0)
    assert article["author"] == {"username": "jake", "bio": None, "image": None, "following": False}


async def test_create_article_without_tags_and_blank_fields(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    article = await new_article(http, token, title="No tags")
    assert article["tagList"] == []
    for field in ("title", "description", "body"):
        fields = {"title": "t", "description": "d", "body": "b", field: "  "}
        response = await http.post("/api/articles", headers=auth(token), json={"article": fields})
        assert response.status_code == 422
        assert errors(response) == {field: ["can't be blank"]}
    missing = await http.post("/api/articles", headers=auth(token), json={"article": {"title": "t"}})
    assert missing.status_code == 422
    assert errors(missing) == {"description": ["can't be blank"], "body": ["can't be blank"]}
    null_tags = await http.post("/api/articles", headers=auth(token), json={"article": {
        "title": "t", "description": "d", "body": "b", "tagList": None}})
    assert null_tags.status_code == 422 and list(errors(null_tags)) == ["tagList"]
    both = await http.post("/api/articles", headers=auth(token), json={"article": {
        "title": " ", "description": "d", "body": "b", "tagList": [" "]}})
    assert errors(both) == {"title": ["can't be blank"], "tagList": ["can't contain blank tags"]}
    wrong_tags = await http.post("/api/articles", headers=auth(token), json={"article": {
        "title": "t", "description": "d", "body": "b", "tagList": "dragons"}})
    assert wrong_tags.status_code == 422 and list(errors(wrong_tags)) == ["tagList"]


async def test_duplicate_titles_get_distinct_slugs(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    first = await new_article(http, token, title="Same title")
    second = await new_article(http, token, title="Same title")
    assert first["slug"] == "same-title"
    assert second["slug"] != first["slug"] and second["slug"].startswith("same-title-")
    for article in (first, second):
        found = await http.get(f"/api/articles/{article['slug']}")
        assert found.status_code == 200 and found.json()["article"]["slug"] == article["slug"]


async def test_an_article_titled_feed_stays_reachable(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    article = await new_article(http, token, title="Feed")
    assert article["slug"] != "feed"
    response = await http.get(f"/api/articles/{article['slug']}")
    assert response.status_code == 200 and response.json()["article"]["title"] == "Feed"


async def test_get_article_is_public_and_unknown_is_404(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    created = await new_article(http, token)
    response = await http.get(f"/api/articles/{created['slug']}")
    assert response.status_code == 200 and response.json()["article"] == created
    missing = await http.get("/api/articles/no-such-article")
    assert missing.status_code == 404 and errors(missing) == {"article": ["not found"]}


async def test_update_article_is_partial_and_a_new_title_is_a_new_slug(http: httpx.AsyncClient
                                                                       ) -> None:
    token = await register(http, "jake")
    created = await new_article(http, token, tagList=["a", "b"])
    body_only = await http.put(f"/api/articles/{created['slug']}", headers=auth(token),
                               json={"article": {"body": "New body"}})
    assert body_only.status_code == 200
    article = body_only.json()["article"]
    assert (article["body"], article["title"], article["slug"], sorted(article["tagList"])) == (
        "New body", created["title"], created["slug"], ["a", "b"])
    assert article["updatedAt"] >= created["updatedAt"]
    retitled = await http.put(f"/api/articles/{created['slug']}", headers=auth(token),
                              json={"article": {"title": "A brand new title"}})
    assert retitled.json()["article"]["slug"] == "a-brand-new-title"
    old = await http.get(f"/api/articles/{created['slug']}")  # the old link moved on (issue 12)
    assert old.status_code == 301 and old.headers["Location"].endswith("/api/articles/a-brand-new-title")
    assert (await http.get("/api/articles/a-brand-new-title")).json()["article"]["body"] == "New body"


async def test_update_article_tag_list_rules(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    slug = (await new_article(http, token, tagList=["a", "b"]))["slug"]
    replaced = await http.put(f"/api/articles/{slug}", headers=auth(token),
                              json={"article": {"tagList": ["c"]}})
    assert replaced.json()["article"]["tagList"] == ["c"]
    null = await http.put(f"/api/articles/{slug}", headers=auth(token),
                          json={"article": {"tagList": None}})
    assert null.status_code == 422 and list(errors(null)) == ["tagList"]
    emptied = await http.put(f"/api/articles/{slug}", headers=auth(token),
                             json={"article": {"tagList": []}})
    assert emptied.json()["article"]["tagList"] == []
    blank_title = await http.put(f"/api/articles/{slug}", headers=auth(token),
                                 json={"article": {"title": ""}})
    assert blank_title.status_code == 422 and errors(blank_title) == {"title": ["can't be blank"]}


async def test_only_the_author_updates_or_deletes_and_unknown_is_404(http: httpx.AsyncClient) -> None:
    author = await register(http, "author")
    other = await register(http, "other")
    slug = (await new_article(http, author))["slug"]
    put = await http.put(f"/api/articles/{slug}", headers=auth(other), json={"article": {"body": "x"}})
    assert put.status_code == 403 and errors(put) == {"article": ["forbidden"]}
    delete = await http.delete(f"/api/articles/{slug}", headers=auth(other))
    assert delete.status_code == 403 and errors(delete) == {"article": ["forbidden"]}
    for method in ("PUT", "DELETE"):
        missing = await http.request(method, "/api/articles/nope", headers=auth(author),
                                     json={"article": {"body": "x"}})
        assert missing.status_code == 404 and errors(missing) == {"article": ["not found"]}
    deleted = await http.delete(f"/api/articles/{slug}", headers=auth(author))
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await http.get(f"/api/articles/{slug}")).status_code == 404


# Lists and the feed -------------------------------------------------------------------------


async def test_list_is_most_recent_first_without_bodies_and_counts_all(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    titles = [f"Article {i}" for i in range(5)]
    for title in titles:
        await new_article(http, token, title=title)
    response = await http.get("/api/articles", params={"limit": 2, "offset": 1})
    assert response.status_code == 200
    data = response.json()
    assert data["articlesCount"] == 5
    assert [a["title"] for a in data["articles"]] == ["Article 3", "Article 2"]
    for article in data["articles"]:
        assert set(article) == ARTICLE_KEYS - {"body"}
    default = (await http.get("/api/articles")).json()
    assert [a["title"] for a in default["articles"]] == titles[::-1]


async def test_list_filters_by_tag_author_and_favorited(http: httpx.AsyncClient) -> None:
    jake = await register(http, "jake")
    anne = await register(http, "anne")
    dragons = await new_article(http, jake, title="Dragons", tagList=["dragons", "fantasy"])
    await new_article(http, jake, title="Cats", tagList=["cats"])
    knights = await new_article(http, anne, title="Knights", tagList=["fantasy"])
    await http.post(f"/api/articles/{knights['slug']}/favorite", headers=auth(jake))

    async def titles(**params: str) -> tuple[list[str], int]:
        data = (await http.get("/api/articles", params=params)).json()
        return sorted(a["title"] for a in data["articles"]), data["articlesCount"]

    assert await titles(tag="fantasy") == (["Dragons", "Knights"], 2)
    assert await titles(author="jake") == (["Cats", "Dragons"], 2)
    assert await titles(favorited="jake") == (["Knights"], 1)
    assert await titles(tag="fantasy", author="anne") == (["Knights"], 1)
    assert await titles(tag="nope") == ([], 0)
    assert await titles(author="nobody") == ([], 0)
    seen = (await http.get("/api/articles", params={"favorited": "jake"}, headers=auth(jake))).json()
    assert seen["articles"][0]["favorited"] is True and seen["articles"][0]["favoritesCount"] == 1
    assert dragons["slug"] in {a["slug"] for a in (await http.get("/api/articles")).json()["articles"]}


async def test_paging_parameters_are_validated_and_limit_is_capped(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    for params, field in [({"limit": "abc"}, "limit"), ({"limit": "-1"}, "limit"),
                          ({"offset": "-5"}, "offset"), ({"offset": "x"}, "offset"),
                          ({"limit": "0"}, "limit"), ({"offset": str(2**40)}, "offset")]:
        for path, headers in (("/api/articles", {}), ("/api/articles/feed", auth(token))):
            response = await http.get(path, params=params, headers=headers)
            assert response.status_code == 422, (path, params)
            assert list(errors(response)) == [field]
    capped = await http.get("/api/articles", params={"limit": "100000"})
    assert capped.status_code == 200 and capped.json() == {"articles": [], "articlesCount": 0}


async def test_limit_above_the_cap_returns_at_most_100(http: httpx.AsyncClient,
                                                       db: AsyncSession) -> None:
    [author_id] = await add_users(db, 1, TEST_PASSWORD_HASH)
    now = utcnow()
    db.add_all(Article(slug=f"bulk-{i}", title=f"Bulk {i}", description="d", body="b",
                       author_id=author_id, created_at=now, updated_at=now) for i in range(105))
    await db.commit()
    await recounted(db)
    data = (await http.get("/api/articles", params={"limit": 500})).json()
    assert len(data["articles"]) == 100 and data["articlesCount"] == 105


async def test_feed_shows_followed_authors_only(http: httpx.AsyncClient) -> None:
    reader = await register(http, "reader")
    followed = await register(http, "followed")
    stranger = await register(http, "stranger")
    for i in range(3):
        await new_article(http, followed, title=f"Followed {i}")
    await new_article(http, stranger, title="Stranger")
    empty = await http.get("/api/articles/feed", headers=auth(reader))
    assert empty.status_code == 200 and empty.json() == {"articles": [], "articlesCount": 0}
    await http.post("/api/profiles/followed/follow", headers=auth(reader))
    data = (await http.get("/api/articles/feed", params={"limit": 2},
                           headers=auth(reader))).json()
    assert data["articlesCount"] == 3
    assert [a["title"] for a in data["articles"]] == ["Followed 2", "Followed 1"]
    assert all(a["author"]["following"] for a in data["articles"])
    assert all("body" not in a for a in data["articles"])


# Favorites ----------------------------------------------------------------------------------


async def test_favorite_and_unfavorite(http: httpx.AsyncClient) -> None:
    author = await register(http, "author")
    fan = await register(http, "fan")
    slug = (await new_article(http, author))["slug"]
    liked = await http.post(f"/api/articles/{slug}/favorite", headers=auth(fan))
    assert liked.status_code == 200
    assert (liked.json()["article"]["favorited"], liked.json()["article"]["favoritesCount"]) == (True, 1)
    twice = await http.post(f"/api/articles/{slug}/favorite", headers=auth(fan))
    assert twice.json()["article"]["favoritesCount"] == 1  # idempotent
    as_author = (await http.get(f"/api/articles/{slug}", headers=auth(author))).json()["article"]
    assert (as_author["favorited"], as_author["favoritesCount"]) == (False, 1)
    unliked = await http.delete(f"/api/articles/{slug}/favorite", headers=auth(fan))
    assert unliked.status_code == 200
    assert (unliked.json()["article"]["favorited"], unliked.json()["article"]["favoritesCount"]) == (
        False, 0)
    for method in ("POST", "DELETE"):
        missing = await http.request(method, "/api/articles/nope/favorite", headers=auth(fan))
        assert missing.status_code == 404 and errors(missing) == {"article": ["not found"]}


# Comments -----------------------------------------------------------------------------------


async def test_comments_add_list_and_delete(http: httpx.AsyncClient) -> None:
    author = await register(http, "author")
    reader = await register(http, "reader")
    slug = (await new_article(http, author))["slug"]
    added = await http.post(f"/api/articles/{slug}/comments", headers=auth(reader),
                            json={"comment": {"body": "Thank you so much!"}})
    assert added.status_code == 201
    comment = added.json()["comment"]
    assert set(comment) == {"id", "createdAt", "updatedAt", "body", "author"}
    assert isinstance(comment["id"], int) and TIMESTAMP.match(comment["createdAt"])
    assert comment["author"]["username"] == "reader"
    await http.post(f"/api/articles/{slug}/comments", headers=auth(author),
                    json={"comment": {"body": "Second"}})
    await http.post("/api/profiles/reader/follow", headers=auth(author))
    listed = await http.get(f"/api/articles/{slug}/comments", headers=auth(author))
    assert listed.status_code == 200
    assert [c["body"] for c in listed.json()["comments"]] == ["Thank you so much!", "Second"]
    assert listed.json()["comments"][0]["author"]["following"] is True
    anonymous = (await http.get(f"/api/articles/{slug}/comments")).json()["comments"]
    assert anonymous[0]["author"]["following"] is False

    forbidden = await http.delete(f"/api/articles/{slug}/comments/{comment['id']}",
                                  headers=auth(author))
    assert forbidden.status_code == 403 and errors(forbidden) == {"comment": ["forbidden"]}
    deleted = await http.delete(f"/api/articles/{slug}/comments/{comment['id']}",
                                headers=auth(reader))
    assert deleted.status_code == 204 and deleted.content == b""
    remaining = (await http.get(f"/api/articles/{slug}/comments")).json()["comments"]
    assert [c["body"] for c in remaining] == ["Second"]


async def test_comment_errors(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    slug = (await new_article(http, token))["slug"]
    blank = await http.post(f"/api/articles/{slug}/comments", headers=auth(token),
                            json={"comment": {"body": ""}})
    assert blank.status_code == 422 and errors(blank) == {"body": ["can't be blank"]}
    for path in ("/api/articles/nope/comments",):
        assert errors(await http.get(path)) == {"article": ["not found"]}
        posted = await http.post(path, headers=auth(token), json={"comment": {"body": "hi"}})
        assert posted.status_code == 404 and errors(posted) == {"article": ["not found"]}
    for comment_id in ("999999", "abc", "99999999999999999999"):
        missing = await http.delete(f"/api/articles/{slug}/comments/{comment_id}", headers=auth(token))
        assert missing.status_code == 404 and errors(missing) == {"comment": ["not found"]}
    on_missing_article = await http.delete("/api/articles/nope/comments/1", headers=auth(token))
    assert errors(on_missing_article) == {"article": ["not found"]}


# Tags ---------------------------------------------------------------------------------------


async def test_tags_lists_tags_in_use(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/tags")).json() == {"tags": []}
    token = await register(http, "jake")
    await new_article(http, token, title="One", tagList=["dragons", "fantasy"])
    await new_article(http, token, title="Two", tagList=["dragons"])
    response = await http.get("/api/tags")
    assert response.status_code == 200 and response.headers["content-type"] == JSON_TYPE
    assert response.json() == {"tags": ["dragons", "fantasy"]}


async def test_tags_are_the_most_used_first_and_at_most_limit(http: httpx.AsyncClient) -> None:
    """An answer costs O(limit) however many tags there are (at most 1,000, by default)."""
    token = await register(http, "jake")
    await new_article(http, token, title="One", tagList=["rare", "common", "usual"])
    await new_article(http, token, title="Two", tagList=["common", "usual"])
    await new_article(http, token, title="Three", tagList=["common"])
    assert (await http.get("/api/tags")).json() == {"tags": ["common", "usual", "rare"]}
    assert (await http.get("/api/tags?limit=2")).json() == {"tags": ["common", "usual"]}
    for bad in ("0", "1001", "many"):
        refused = await http.get(f"/api/tags?limit={bad}")
        assert refused.status_code == 422 and "limit" in errors(refused)
