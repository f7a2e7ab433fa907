"""The API's pages by cursor: the Link header, both cursors at once, an offset past a cursor."""

from __future__ import annotations

import re

import httpx

from tests.support.api import auth, errors, new_article, register

LINK = re.compile(r'<([^>]+)>; rel="(next|prev)"')


def _links(response: httpx.Response) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(response.headers.get("Link", ""))}


async def _page(http: httpx.AsyncClient, url: str, token: str | None = None
                ) -> tuple[list[str], dict[str, str]]:
    response = await http.get(url, headers=auth(token) if token else {})
    assert response.status_code == 200, response.text
    return [article["slug"] for article in response.json()["articles"]], _links(response)


async def _seven(http: httpx.AsyncClient) -> list[str]:
    """Seven articles by one writer; their slugs, newest first."""
    token = await register(http, "writer")
    return [(await new_article(http, token, title=f"Article {n}"))["slug"] for n in range(7)][::-1]


def _cursor(url: str, side: str) -> str:
    found = re.search(rf"[?&]{side}=([^&]+)", url)
    assert found, url
    return found.group(1)


async def test_the_link_header_walks_every_article_once_and_back(http: httpx.AsyncClient) -> None:
    newest_first = await _seven(http)
    page, links = await _page(http, "/api/articles?limit=3")
    assert "prev" not in links  # the first page has nothing newer
    pages = [page]
    while "next" in links:
        page, links = await _page(http, links["next"])
        pages.append(page)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [slug for p in pages for slug in p] == newest_first
    back, _ = await _page(http, links["prev"])  # from the last page, the one newer than it
    assert back == pages[1]


async def test_both_cursors_give_the_articles_between_them(http: httpx.AsyncClient) -> None:
    newest_first = await _seven(http)
    _, first = await _page(http, "/api/articles?limit=1")
    top = _cursor(first["next"], "before")  # below the newest
    _, to_last = await _page(http, "/api/articles?limit=6")
    bottom = _cursor(to_last["next"], "before")  # the sixth
    between, links = await _page(http, f"/api/articles?limit=2&before={top}&after={bottom}")
    assert between == newest_first[1:3]
    assert f"after={bottom}" in links["next"]  # the next page stays above the floor
    rest, links = await _page(http, links["next"])
    assert rest == newest_first[3:5] and "next" not in links  # the floor ends the list


async def test_an_offset_with_a_cursor_skips_past_it(http: httpx.AsyncClient) -> None:
    newest_first = await _seven(http)
    _, links = await _page(http, "/api/articles?limit=2")
    skipped, _ = await _page(http, links["next"] + "&offset=1")
    assert skipped == newest_first[3:5]


async def test_the_feed_pages_by_cursor_with_an_offset_and_between(http: httpx.AsyncClient) -> None:
    newest_first = await _seven(http)
    reader = await register(http, "reader")
    assert (await http.post("/api/profiles/writer/follow", headers=auth(reader))).status_code == 200
    page, links = await _page(http, "/api/articles/feed?limit=2", reader)
    assert page == newest_first[:2]
    page, _ = await _page(http, links["next"] + "&offset=2", reader)
    assert page == newest_first[4:6]
    _, deep = await _page(http, "/api/articles/feed?limit=5", reader)
    bottom = _cursor(deep["next"], "before")
    page, _ = await _page(http, f"{links['next']}&after={bottom}", reader)
    assert page == newest_first[2:4]


async def test_a_cursor_is_checked_and_one_past_every_key_is_the_largest(http: httpx.AsyncClient) -> None:
    newest_first = await _seven(http)
    for bad in ("1.2.3", "x", "12", ".5", "1.", "1.2\n", "\u0661.\u0662"):
        response = await http.get("/api/articles", params={"before": bad})
        assert response.status_code == 422, bad
        assert list(errors(response)) == ["before"]
    beyond, _ = await _page(http, f"/api/articles?before={'9' * 18}.{'9' * 10}")
    assert beyond == newest_first  # a time past 9999 and an id past 32 bits: nothing lies beyond
    nothing, _ = await _page(http, "/api/articles?after=" + "9" * 18 + ".1")
    assert nothing == newest_first  # nothing newer: the first page
