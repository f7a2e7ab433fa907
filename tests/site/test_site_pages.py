"""Home, profiles, follows, favorites and settings through the Quart test client."""

from __future__ import annotations

import re
from html import unescape

from quart import Quart
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import article_lists, favorites, users
from app.domain.passwords import verify_password
from app.infra.database import get_database
from app.live import get_live
from app.models import User
from app.site.pager import Pager
from tests.support.database import count_queries
from tests.support.site import make_article, make_user, page_text, post, sign_in


def _titles(html: str) -> list[str]:
    return re.findall(r"<h3>(.*?)</h3>", html)


async def test_home_lists_the_global_feed_with_popular_tags(client, db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    await make_article(db, alice, "First post", tags=("python", "quart"))
    await make_article(db, alice, "Second post", tags=("python",))
    html = await page_text(client, "/")
    assert "<title>Conduit: a place to share your knowledge</title>" in html
    assert '<h2 class="tab active">Global Feed</h2>' in html
    assert _titles(html) == ["Second post", "First post"]
    sidebar = html.split("Popular Tags", 1)[1]
    assert sidebar.index(">python<") < sidebar.index(">quart<")  # most used first
    assert "Your Feed" not in html  # anonymous
    assert 'href="/login?next=/"' in html  # the favorite button asks anonymous visitors to sign in


async def test_home_filters_by_tag(client, db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    await make_article(db, alice, "About python", tags=("python",))
    await make_article(db, alice, "About sqlite", tags=("sqlite",))
    html = await page_text(client, "/?tag=sqlite")
    assert _titles(html) == ["About sqlite"]
    assert '<h2 class="tab active"># sqlite</h2>' in html
    assert 'href="/">Global Feed</a>' in html


def _link(html: str, rel: str) -> str | None:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', html)
    return unescape(found.group(1)) if found else None


async def test_home_pages_through_articles_by_cursor(app: Quart, client, db: AsyncSession,
                                                     monkeypatch) -> None:
    monkeypatch.setitem(app.config, "SITE_PAGE_SIZE", 3)
    alice = await make_user(db, "alice")
    for n in range(7):
        await make_article(db, alice, f"Post {n}", tags=("python",) if n % 2 == 0 else ())
    first = await page_text(client, "/")
    assert _titles(first) == ["Post 6", "Post 5", "Post 4"] and "7 articles" in first
    assert _link(first, "prev") is None
    second_url = _link(first, "next")
    assert second_url is not None and "before=" in second_url
    second = await page_text(client, second_url)
    assert _titles(second) == ["Post 3", "Post 2", "Post 1"]
    third_url = _link(second, "next")
    assert third_url is not None
    third = await page_text(client, third_url)
    assert _titles(third) == ["Post 0"] and _link(third, "next") is None  # the end
    back_url = _link(third, "prev")
    assert back_url is not None and "after=" in back_url
    assert _titles(await page_text(client, back_url)) == ["Post 3", "Post 2", "Post 1"]
    newest_url = _link(second, "prev")
    assert newest_url is not None
    assert _titles(await page_text(client, newest_url)) == _titles(first)  # newer ends on a full first page
    assert _titles(await page_text(client, "/?page=3")) == ["Post 0"]  # old links still work
    assert _titles(await page_text(client, "/?page=nonsense")) == _titles(first)
    tagged = await page_text(client, "/?tag=python")
    assert _titles(tagged) == ["Post 6", "Post 4", "Post 2"] and "4 articles" in tagged
    older_tagged = _link(tagged, "next")
    assert older_tagged is not None and "tag=python" in older_tagged  # the filter is kept
    assert (await client.get("/?before=nonsense")).status_code == 400
    assert (await client.get("/?before=1.2&after=3.4")).status_code == 400


def test_pager_window_shows_first_last_and_neighbours() -> None:
    assert Pager(page=6, size=10, total=500).window() == [1, None, 4, 5, 6, 7, 8, None, 50]
    assert Pager(page=1, size=10, total=30).window() == [1, 2, 3]
    assert Pager(page=1, size=10, total=0).pages == 1


async def test_your_feed_needs_sign_in_and_shows_followed_authors(client, db: AsyncSession) -> None:
    response = await client.get("/?feed=following")
    assert response.headers["location"] == "/login?next=/?feed%3Dfollowing"
    reader, bruno, chen = [await make_user(db, n) for n in ("reader", "bruno", "chen")]
    await make_article(db, bruno, "By bruno")
    await make_article(db, chen, "By chen")
    await users.follow(db, reader.id, "bruno")
    await sign_in(client, "reader")
    html = await page_text(client, "/?feed=following")
    assert '<h2 class="tab active">Your Feed</h2>' in html
    assert _titles(html) == ["By bruno"]


async def test_home_page_queries_do_not_grow_with_the_page_size(app: Quart, client, db: AsyncSession,
                                                                monkeypatch) -> None:
    """No N+1: author, tags, favorite counts and the viewer's flags come in a fixed number of queries."""
    viewer = await make_user(db, "viewer")
    authors = [await make_user(db, f"author{n}") for n in range(4)]
    for n in range(24):
        author = authors[n % 4]
        view = await make_article(db, author, f"Article {n}", tags=(f"t{n % 5}", f"u{n % 3}"))
        if n % 2:
            await favorites.favorite(db, viewer.id, view.slug)
    await users.follow(db, viewer.id, "author1")
    await sign_in(client, "viewer")
    engine = get_database(app).engine
    assert engine is not None
    counts = {}
    for size in (5, 20):
        monkeypatch.setitem(app.config, "SITE_PAGE_SIZE", size)
        get_live(app).hub.position_at = float("-inf")  # each reads the live position afresh
        with count_queries(engine) as statements:
            html = await page_text(client, "/")
        assert len(_titles(html)) == size
        assert html.count("fav-button") == size
        counts[size] = len(statements)
    assert counts[5] == counts[20]
    assert counts[20] <= 6  # user, page, count, tags of the page, popular tags (+ slack of one)


async def test_profile_shows_articles_and_favorites_tabs(client, db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    bruno = await make_user(db, "bruno")
    await users.update_account(db, alice.id, bio="I write about <b>loops</b>.")
    await make_article(db, alice, "Alice writes")
    liked = await make_article(db, bruno, "Bruno writes")
    await favorites.favorite(db, alice.id, liked.slug)
    html = await page_text(client, "/profile/alice")
    assert "<h1>alice</h1>" in html
    assert "I write about &lt;b&gt;loops&lt;/b&gt;." in html  # autoescaped
    assert '<h2 class="tab active">My Articles</h2>' in html
    assert _titles(html) == ["Alice writes"]
    favorited_page = await page_text(client, "/profile/alice/favorites")
    assert '<h2 class="tab active">Favorited Articles</h2>' in favorited_page
    assert _titles(favorited_page) == ["Bruno writes"]
    assert (await client.get("/profile/nobody")).status_code == 404


async def test_follow_and_unfollow_from_a_profile(client, db: AsyncSession) -> None:
    await make_user(db, "fan")
    await make_user(db, "star")
    await sign_in(client, "fan")
    html = await page_text(client, "/profile/star")
    assert "</svg> Follow star" in html
    response = await post(client, "/profile/star/follow", {"next": "/profile/star"})
    assert response.headers["location"] == "/profile/star"
    html = await page_text(client, "/profile/star")
    assert "You follow star now." in html and "</svg> Unfollow star" in html
    await post(client, "/profile/star/unfollow", {"next": "https://evil.example"})
    assert "</svg> Follow star" in await page_text(client, "/profile/star")


async def test_follow_needs_a_csrf_token(client, db: AsyncSession) -> None:
    await make_user(db, "fan")
    await make_user(db, "star")
    await sign_in(client, "fan")
    response = await client.post("/profile/star/follow", form={"next": "/"})
    assert response.status_code == 400
    assert "</svg> Follow star" in await page_text(client, "/profile/star")


async def test_following_yourself_is_refused_with_a_message(client, db: AsyncSession) -> None:
    await make_user(db, "solo")
    await sign_in(client, "solo")
    response = await post(client, "/profile/solo/follow")
    assert response.status_code == 302
    assert "You cannot do that" in await page_text(client, "/profile/solo")


async def test_anonymous_follow_goes_to_sign_in(client, db: AsyncSession) -> None:
    await make_user(db, "star")
    html = await page_text(client, "/profile/star")
    assert 'href="/login?next=/profile/star"' in html
    response = await post(client, "/profile/star/follow", {"next": "/profile/star"},
                          token_page="/login")
    assert response.headers["location"] == "/login?next=/profile/star"


async def test_favorite_and_unfavorite_from_the_home_page(client, db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    view = await make_article(db, alice, "Likeable")
    await make_user(db, "fan")
    await sign_in(client, "fan")
    response = await post(client, f"/article/{view.slug}/favorite", {"next": "/?tag=python"},
                          token_page="/")
    assert response.headers["location"] == "/?tag=python"
    assert (await article_lists.get_article(db, view.slug)).favorites_count == 1
    await db.rollback()  # the test's session is a writer's: end its transaction (SQLite lock)
    html = await page_text(client, "/")
    assert f'action="/article/{view.slug}/unfavorite"' in html
    await post(client, f"/article/{view.slug}/unfavorite", token_page="/")
    db.expire_all()
    assert (await article_lists.get_article(db, view.slug)).favorites_count == 0


async def test_favorite_without_csrf_is_refused(client, db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    view = await make_article(db, alice, "Likeable")
    await sign_in(client, "alice")
    response = await client.post(f"/article/{view.slug}/favorite", form={"csrf_token": "forged"})
    assert response.status_code == 400
    assert (await article_lists.get_article(db, view.slug)).favorites_count == 0


async def test_settings_update_the_account(client, db: AsyncSession) -> None:
    account = await make_user(db, "sam")
    await sign_in(client, "sam")
    html = await page_text(client, "/settings")
    assert 'value="sam@example.test"' in html
    response = await post(client, "/settings", {
        "username": "samuel", "email": "samuel@example.test", "bio": "Hello.",
        "image": "https://img.example/sam.png", "password": "a brand new password"})
    assert response.headers["location"] == "/profile/samuel"
    profile = await page_text(client, "/profile/samuel")
    assert "Your settings are saved." in profile and "Hello." in profile
    assert 'src="https://img.example/sam.png"' in profile
    stored = await db.scalar(select(User.password_hash).where(User.id == account.id))
    assert stored is not None and await verify_password(stored, "a brand new password")


async def test_settings_keep_the_password_when_left_blank(client, db: AsyncSession) -> None:
    account = await make_user(db, "tia")
    before = await db.scalar(select(User.password_hash).where(User.id == account.id))
    await db.rollback()  # free SQLite's write lock for the app
    await sign_in(client, "tia")
    await post(client, "/settings", {"username": "tia", "email": "tia@example.test", "bio": "",
                                     "image": "", "password": ""})
    db.expire_all()
    assert await db.scalar(select(User.password_hash).where(User.id == account.id)) == before


async def test_settings_show_validation_errors(client, db: AsyncSession) -> None:
    await make_user(db, "taken")
    await make_user(db, "uma")
    await sign_in(client, "uma")
    response = await post(client, "/settings", {"username": "taken", "email": "uma@example.test",
                                                "password": "short"})
    html = (await response.get_data()).decode()
    assert response.status_code == 200
    assert "New password is too short (minimum is 8 characters)" in html
    response = await post(client, "/settings", {"username": "taken", "email": "uma@example.test"})
    assert "Username has already been taken" in (await response.get_data()).decode()
    assert (await users.get_profile(db, "uma")).username == "uma"


async def test_settings_without_csrf_is_refused(client, db: AsyncSession) -> None:
    await make_user(db, "vic")
    await sign_in(client, "vic")
    response = await client.post("/settings", form={"username": "hacked", "email": "vic@example.test"})
    assert response.status_code == 400
    assert (await users.get_profile(db, "vic")).username == "vic"


async def test_javascript_avatar_urls_are_not_used(client, db: AsyncSession) -> None:
    # The domain refuses such an image now (test_hostile_input.py); a row written before that
    # rule, or by hand, must still never reach a page.
    account = await make_user(db, "wes")
    await db.execute(update(User).where(User.id == account.id).values(image="javascript:alert(1)"))
    await db.commit()
    html = await page_text(client, "/profile/wes")
    assert "javascript:" not in html
    assert 'src="/static/img/avatar.svg"' in html
