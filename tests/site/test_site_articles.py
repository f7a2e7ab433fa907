"""The article page, the editor, comments, deleting, and markdown that cannot run script."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from markupsafe import Markup
from quart import Quart
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import NotFound, article_lists, comments
from app.site import rendering
from app.site.forms import parse_tags, tags_text
from app.site.rendering import format_date, render_markdown
from tests.support.site import make_article, make_user, page_text, post, sign_in

EVIL = """# Title

<script>alert("body")</script>
<img src=x onerror="alert('img')">
[click me](javascript:alert('link'))
[data](data:text/html;base64,PHNjcmlwdD4=)
<a href="javascript:alert('raw')">raw</a>
![pic](javascript:alert('pic'))

**bold** and `code` and a [real link](https://example.org/page).
"""


class _Elements(HTMLParser):
    """Every element and attribute a browser would build from the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)


def _assert_inert(html: str) -> None:
    """No script element, no event handler, no javascript:/data: URL (as text they are fine)."""
    elements = _Elements()
    elements.feed(html)
    assert "script" not in elements.tags
    assert not [name for name, _ in elements.attributes if name.startswith("on")]
    urls = [value.strip().lower() for name, value in elements.attributes if name in ("href", "src")]
    assert not [url for url in urls if url.startswith(("javascript:", "data:", "vbscript:"))]


def test_markdown_renders_and_sanitises() -> None:
    html = str(render_markdown(EVIL))
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert '<a href="https://example.org/page" rel="noopener noreferrer nofollow">real link</a>' in html
    _assert_inert(html)
    assert "&lt;script&gt;" in html  # shown as text, not run


async def test_a_page_with_more_bodies_than_the_cache_never_renders_on_the_loop(
        app: Quart, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = [f"comment *{n}*" for n in range(rendering.CACHE_SIZE + 50)]
    async with app.test_request_context("/"):
        await rendering.prerender(sources)

        def on_the_loop(source: str) -> Markup:
            raise AssertionError(f"rendered on the event loop: {source!r}")

        monkeypatch.setattr(rendering, "_render", on_the_loop)
        assert [rendering.render_markdown(s) for s in sources][-1] == \
            f"<p>comment <em>{len(sources) - 1}</em></p>\n"


def test_date_filter() -> None:
    from datetime import UTC, datetime

    assert format_date(datetime(2026, 1, 5, tzinfo=UTC)) == "January 5, 2026"
    assert format_date(datetime(2026, 1, 5, tzinfo=UTC), "short") == "Jan 5, 2026"


async def test_article_page_shows_the_article_and_its_comments(client, db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    bruno = await make_user(db, "bruno")
    view = await make_article(db, alice, "Hello <World>", body="Some **bold** words.",
                              tags=("python", "web"))
    await comments.add_comment(db, bruno.id, view.slug, "Nice *post*!")
    html = await page_text(client, f"/article/{view.slug}")
    assert "<title>Hello &lt;World&gt; — Conduit</title>" in html
    assert "<h1>Hello &lt;World&gt;</h1>" in html
    assert "<strong>bold</strong>" in html
    assert "Nice <em>post</em>!" in html
    assert 'href="/?tag=python"' in html and 'href="/?tag=web"' in html
    assert 'href="/profile/alice"' in html
    assert "Sign in</a> or" in html  # anonymous: no comment box
    assert (await client.get("/article/no-such-article")).status_code == 404


async def test_script_in_an_article_or_comment_is_inert(client, db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    view = await make_article(db, alice, "Evil", body=EVIL)
    await comments.add_comment(db, alice.id, view.slug, EVIL)
    html = await page_text(client, f"/article/{view.slug}")
    site_scripts = ['<script src="/static/site.js" defer></script>',  # the site's own, files
                    '<script src="/static/live.js" defer></script>']
    for script in site_scripts:
        assert html.count(script) == 1
        html = html.replace(script, "")
    _assert_inert(html)
    assert html.count("real link</a>") == 2


async def test_write_an_article_with_tags(client, db: AsyncSession) -> None:
    await make_user(db, "alice")
    await sign_in(client, "alice")
    assert "Publish Article" in await page_text(client, "/editor")
    response = await post(client, "/editor", {
        "title": "My first article", "description": "Short", "body": "# Hi\n\nThere.",
        "tags": "python, asyncio web"}, token_page="/editor")
    assert response.status_code == 302
    assert response.headers["location"] == "/article/my-first-article"
    html = await page_text(client, "/article/my-first-article")
    assert "Your article is published." in html and "<h1>Hi</h1>" in html
    assert (await article_lists.get_article(db, "my-first-article")).tags == ["asyncio", "python", "web"]


async def test_the_editor_shows_errors_beside_the_fields(client, db: AsyncSession) -> None:
    await make_user(db, "alice")
    await sign_in(client, "alice")
    response = await post(client, "/editor", {"title": "", "description": "d", "body": " ",
                                              "tags": "x" * 70}, token_page="/editor")
    html = (await response.get_data()).decode()
    assert response.status_code == 200
    assert "Title can&#39;t be blank" in html
    assert 'value="d"' in html  # what was typed stays
    response = await post(client, "/editor", {"title": "T", "description": "d", "body": "b",
                                              "tags": "x" * 70}, token_page="/editor")
    assert "tags are at most 64 characters" in (await response.get_data()).decode()
    assert (await article_lists.list_articles(db)).total == 0


async def test_the_editor_needs_sign_in_and_csrf(client, db: AsyncSession) -> None:
    response = await client.get("/editor")
    assert response.headers["location"] == "/login?next=/editor"
    await make_user(db, "alice")
    await sign_in(client, "alice")
    response = await client.post("/editor", form={"title": "T", "description": "d", "body": "b"})
    assert response.status_code == 400
    assert (await article_lists.list_articles(db)).total == 0


async def test_edit_your_own_article(client, db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    view = await make_article(db, alice, "Old title", tags=("old",))
    await sign_in(client, "alice")
    html = await page_text(client, f"/editor/{view.slug}")
    assert 'value="Old title"' in html and "Update Article" in html
    response = await post(client, f"/editor/{view.slug}", {
        "title": "New title", "description": "New", "body": "New body", "tags": "new"},
        token_page=f"/editor/{view.slug}")
    assert response.headers["location"] == "/article/new-title"
    updated = await article_lists.get_article(db, "new-title")
    assert updated.body == "New body" and updated.tags == ["new"]


def test_tags_text_round_trips_tags_with_spaces_and_commas() -> None:
    assert parse_tags('python, asyncio  web,,') == ["python", "asyncio", "web"]
    assert parse_tags('"machine learning" web "a,b" ""') == ["machine learning", "web", "a,b"]
    assert parse_tags('"say ""hi""" 5') == ['say "hi"', "5"]
    for tags in (["python"], ["machine learning"], ["machine learning", "web", "a,b"], [],
                 ['say "hi"', '5"', '"', 'a""b']):
        assert parse_tags(tags_text(tags)) == tags


async def test_saving_the_editor_keeps_tags_with_spaces(client, db: AsyncSession) -> None:
    # The API allows a tag such as "machine learning"; editing another field on the site keeps it.
    alice = await make_user(db, "alice")
    view = await make_article(db, alice, "Tagged", tags=("machine learning", "web"))
    await sign_in(client, "alice")
    html = await page_text(client, f"/editor/{view.slug}")
    assert 'value="&#34;machine learning&#34; web"' in html
    response = await post(client, f"/editor/{view.slug}", {
        "title": "Tagged", "description": "Changed", "body": "Some *body*.",
        "tags": '"machine learning" web'}, token_page=f"/editor/{view.slug}")
    assert response.status_code == 302
    updated = await article_lists.get_article(db, view.slug)
    assert updated.description == "Changed" and updated.tags == ["machine learning", "web"]


async def test_others_cannot_edit_or_delete_an_article(client, db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    await make_user(db, "mallory")
    view = await make_article(db, alice, "Alice's")
    await sign_in(client, "mallory")
    page = await page_text(client, f"/article/{view.slug}")
    assert "Edit Article" not in page and "Delete Article" not in page
    assert (await client.get(f"/editor/{view.slug}")).status_code == 403
    response = await post(client, f"/editor/{view.slug}", {
        "title": "Hacked", "description": "x", "body": "x", "tags": ""}, token_page="/")
    assert response.status_code == 403
    assert "403 Forbidden" in (await response.get_data()).decode()
    response = await post(client, f"/article/{view.slug}/delete", {"confirm": "yes"}, token_page="/")
    assert response.status_code == 403
    assert (await article_lists.get_article(db, view.slug)).title == "Alice's"


async def test_delete_your_own_article(client, db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    view = await make_article(db, alice, "Short-lived")
    await sign_in(client, "alice")
    assert "Delete Article" in await page_text(client, f"/article/{view.slug}")
    assert (await client.post(f"/article/{view.slug}/delete")).status_code == 400  # no token
    response = await post(client, f"/article/{view.slug}/delete", {"confirm": "yes"}, token_page="/")
    assert response.headers["location"] == "/"
    with pytest.raises(NotFound):
        await article_lists.get_article(db, view.slug)


async def test_comment_on_an_article(client, db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    view = await make_article(db, alice, "Discuss")
    await make_user(db, "bruno")
    await sign_in(client, "bruno")
    page = f"/article/{view.slug}"
    assert "Post Comment" in await page_text(client, page)
    response = await post(client, f"{page}/comments", {"body": "First!"}, token_page=page)
    assert response.status_code == 302
    assert response.headers["location"].startswith(f"{page}#comment-")
    html = await page_text(client, page)
    assert "Your comment is posted." in html and "<p>First!</p>" in html


async def test_a_blank_comment_shows_an_error(client, db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    view = await make_article(db, alice, "Discuss")
    await sign_in(client, "alice")
    page = f"/article/{view.slug}"
    response = await post(client, f"{page}/comments", {"body": "   "}, token_page=page)
    assert response.status_code == 200
    assert "can&#39;t be blank" in (await response.get_data()).decode()
    assert await comments.list_comments(db, view.slug) == []


async def test_comments_need_sign_in_and_csrf(client, db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    view = await make_article(db, alice, "Discuss")
    page = f"/article/{view.slug}"
    response = await post(client, f"{page}/comments", {"body": "anon", "next": page},
                          token_page="/login")
    assert response.headers["location"] == f"/login?next={page}"
    await sign_in(client, "alice")
    assert (await client.post(f"{page}/comments", form={"body": "x"})).status_code == 400
    assert await comments.list_comments(db, view.slug) == []


async def test_delete_own_comment_but_not_anothers(client, db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    bruno = await make_user(db, "bruno")
    view = await make_article(db, alice, "Discuss")
    mine = await comments.add_comment(db, bruno.id, view.slug, "mine")
    theirs = await comments.add_comment(db, alice.id, view.slug, "theirs")
    await sign_in(client, "bruno")
    page = f"/article/{view.slug}"
    html = await page_text(client, page)
    assert f"/comments/{mine.id}/delete" in html and f"/comments/{theirs.id}/delete" not in html
    response = await post(client, f"{page}/comments/{theirs.id}/delete", {"confirm": "yes"}, token_page=page)
    assert response.status_code == 403
    response = await post(client, f"{page}/comments/{mine.id}/delete", {"confirm": "yes"}, token_page=page)
    assert response.status_code == 302
    assert [c.body for c in await comments.list_comments(db, view.slug)] == ["theirs"]
    await db.rollback()  # the test's session is a writer's: free SQLite's lock for the app
    response = await post(client, f"{page}/comments/{mine.id}/delete", {"confirm": "yes"}, token_page=page)
    assert response.status_code == 404
