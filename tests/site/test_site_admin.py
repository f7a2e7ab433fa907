"""The admin area: who may enter, users (search, pages), grant/revoke, deleting anything; and the
domain functions behind it (app.domain.admin)."""

from __future__ import annotations

import pytest
from quart import Quart
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import NotFound, admin, article_lists, comments, users
from app.domain.sessions import start_session
from tests.conftest import TEST_PASSWORD_HASH
from tests.support.database import add_users
from tests.support.site import make_article, make_user, page_text, post, sign_in

ADMIN_PAGES = ["/admin/", "/admin/articles", "/admin/comments"]
ADMIN_ACTIONS = ["/admin/users/bruno/admin", "/admin/articles/some-slug/delete",
                 "/admin/comments/1/delete"]


# --- the domain layer ------------------------------------------------------------------------

async def test_list_users_pages_and_searches(db: AsyncSession) -> None:
    await add_users(db, 25, TEST_PASSWORD_HASH, prefix="member")
    await users.create_user(db, username="Zed_100", email="zed100%@example.test",
                            password_hash=TEST_PASSWORD_HASH)
    page = await admin.list_users(db, limit=10, offset=20)
    assert page.total == 26
    # by lower(username): member0, member1, member10..19, member2, member20..24, member3.., zed
    assert [u.username for u in page.items] == [*(f"member{n}" for n in range(5, 10)), "Zed_100"]
    found = await admin.list_users(db, query="MEMBER1", limit=50)
    assert sorted(u.username for u in found.items) == sorted(
        ["member1", *[f"member{n}" for n in range(10, 20)]])
    assert found.total == 11
    by_email = await admin.list_users(db, query="ZED100%@example", limit=5)
    assert [u.username for u in by_email.items] == ["Zed_100"]
    assert (await admin.list_users(db, query="100%", limit=5)).total == 1  # "%" is literal
    assert (await admin.list_users(db, query="d_1", limit=50)).total == 1  # "_" too
    assert (await admin.list_users(db, query="nobody", limit=50)).items == []


async def test_list_users_orders_case_insensitively(db: AsyncSession) -> None:
    for name in ("bob", "Alice", "carol"):
        await make_user(db, name)
    page = await admin.list_users(db, limit=10)
    assert [u.username for u in page.items] == ["Alice", "bob", "carol"]


async def test_recent_comments_span_articles_newest_first(db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    one = await make_article(db, alice, "One")
    two = await make_article(db, alice, "Two")
    await comments.add_comment(db, alice.id, one.slug, "first")
    await comments.add_comment(db, alice.id, two.slug, "second")
    page = await admin.recent_comments(db, limit=10)
    assert [(c.body, c.article_title) for c in page.items] == [("second", "Two"), ("first", "One")]
    assert page.total == 2 and page.items[0].author.username == "alice"


async def test_delete_comment_by_id(db: AsyncSession) -> None:
    alice = await make_user(db, "alice")
    view = await make_article(db, alice, "One")
    comment = await comments.add_comment(db, alice.id, view.slug, "bye")
    await admin.delete_comment(db, comment.id)
    assert await comments.list_comments(db, view.slug) == []
    with pytest.raises(NotFound):
        await admin.delete_comment(db, comment.id)


# --- who may enter ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_admin_pages_send_anonymous_visitors_to_sign_in(client, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 302
    assert response.headers["location"] == f"/login?next={path}"


@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_admin_pages_are_forbidden_to_members(client, db: AsyncSession, path: str) -> None:
    await make_user(db, "member")
    await sign_in(client, "member")
    response = await client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 403
    assert "403 Forbidden" in (await response.get_data()).decode()
    assert 'href="/admin/"' not in await page_text(client, "/")  # no Admin link either


@pytest.mark.parametrize("path", ADMIN_ACTIONS)
async def test_admin_actions_are_forbidden_to_members(client, db: AsyncSession, path: str) -> None:
    await make_user(db, "member")
    bruno = await make_user(db, "bruno")
    await sign_in(client, "member")
    response = await post(client, path, {"grant": "1"}, token_page="/")
    assert response.status_code == 403
    assert not (await users.get_account(db, bruno.id)).is_admin  # type: ignore[union-attr]


@pytest.mark.parametrize("path", ADMIN_ACTIONS)
async def test_admin_actions_need_a_csrf_token(client, db: AsyncSession, path: str) -> None:
    await make_user(db, "boss", is_admin=True)
    await sign_in(client, "boss")
    response = await client.post(path, form={"grant": "1"})
    assert response.status_code == 400


# --- what admins do --------------------------------------------------------------------------

async def test_admin_lists_searches_and_pages_users(app: Quart, client, db: AsyncSession,
                                                    monkeypatch) -> None:
    monkeypatch.setitem(app.config, "SITE_PAGE_SIZE", 5)
    await make_user(db, "boss", is_admin=True)
    await add_users(db, 12, TEST_PASSWORD_HASH, prefix="member")
    await sign_in(client, "boss")
    html = await page_text(client, "/admin/")
    assert "13 users" in html
    assert html.count('class="user-cell"') == 5
    assert 'href="/admin/?page=3"' in html
    found = await page_text(client, "/admin/?q=member1")
    assert "3 users matching “member1”" in found  # member1, member10, member11
    assert 'value="member1"' in found
    assert "member2@" not in found
    page2 = await page_text(client, "/admin/?q=member&page=2")
    assert 'href="/admin/?page=1&amp;q=member"' in page2
    # Each page its own title (before: "Admin — Conduit" on all of them).
    assert "<title>Users — Admin — Conduit</title>" in html
    assert "<title>Users matching “member”, page 2 — Admin — Conduit</title>" in page2
    assert "<title>Articles — Admin — Conduit</title>" in await page_text(client, "/admin/articles")
    assert "<title>Comments — Admin — Conduit</title>" in await page_text(client, "/admin/comments")


async def test_admin_grants_and_revokes_admin(client, db: AsyncSession) -> None:
    await make_user(db, "boss", is_admin=True)
    await make_user(db, "bruno")
    await sign_in(client, "boss")
    response = await post(client, "/admin/users/bruno/admin", {"grant": "1", "next": "/admin/?q=br"},
                          token_page="/admin/")
    assert response.headers["location"] == "/admin/?q=br"
    assert "bruno is now an administrator." in await page_text(client, "/admin/")
    assert (await users.get_profile(db, "bruno")) is not None
    assert (await admin.list_users(db, query="bruno")).items[0].is_admin
    await db.rollback()
    await post(client, "/admin/users/bruno/admin", {"grant": "0"}, token_page="/admin/")
    assert not (await admin.list_users(db, query="bruno")).items[0].is_admin
    await db.rollback()
    response = await post(client, "/admin/users/nobody/admin", {"grant": "1"}, token_page="/admin/")
    assert response.status_code == 404


async def test_an_admin_cannot_revoke_their_own_rights(client, db: AsyncSession) -> None:
    await make_user(db, "boss", is_admin=True)
    await sign_in(client, "boss")
    await post(client, "/admin/users/boss/admin", {"grant": "0"}, token_page="/admin/")
    assert "You cannot revoke your own admin rights." in await page_text(client, "/admin/")
    assert (await admin.list_users(db, query="boss")).items[0].is_admin


async def test_admin_deletes_any_article(client, db: AsyncSession) -> None:
    await make_user(db, "boss", is_admin=True)
    alice = await make_user(db, "alice")
    view = await make_article(db, alice, "Spam")
    await sign_in(client, "boss")
    listing = await page_text(client, "/admin/articles")
    assert "Spam" in listing and f"/admin/articles/{view.slug}/delete" in listing
    response = await post(client, f"/admin/articles/{view.slug}/delete", {"confirm": "yes"},
                          token_page="/admin/")
    assert response.headers["location"] == "/admin/articles"
    assert (await article_lists.list_articles(db)).total == 0


async def test_admin_deletes_any_comment_from_the_list_or_the_article(client,
                                                                      db: AsyncSession) -> None:
    await make_user(db, "boss", is_admin=True)
    alice = await make_user(db, "alice")
    view = await make_article(db, alice, "Discuss")
    first = await comments.add_comment(db, alice.id, view.slug, "rude remark")
    second = await comments.add_comment(db, alice.id, view.slug, "another one")
    await sign_in(client, "boss")
    listing = await page_text(client, "/admin/comments")
    assert "rude remark" in listing and "Discuss" in listing
    await post(client, f"/admin/comments/{first.id}/delete", {"confirm": "yes"}, token_page="/admin/")
    page = f"/article/{view.slug}"
    html = await page_text(client, page)
    assert "rude remark" not in html
    assert f"/comments/{second.id}/delete" in html  # admins see delete on every comment
    response = await post(client, f"{page}/comments/{second.id}/delete", {"confirm": "yes"}, token_page=page)
    assert response.status_code == 302
    assert await comments.list_comments(db, view.slug) == []
    await db.rollback()
    response = await post(client, f"/admin/comments/{first.id}/delete", {"confirm": "yes"},
                          token_page="/admin/")
    assert response.status_code == 404


async def test_a_cookie_or_token_signed_with_the_old_source_secret_is_refused(
        app: Quart, client, db: AsyncSession) -> None:
    """Development and testing used to sign with a secret written in the source: anyone could
    mint an admin's session cookie or an API token. Now the secret is the instance's own."""
    import jwt
    from quart.sessions import SecureCookieSessionInterface

    boss = await make_user(db, "forged", is_admin=True)
    minting = Quart(__name__)
    minting.secret_key = "dev-only-insecure-secret-change-me"
    signer = SecureCookieSessionInterface().get_signing_serializer(minting)
    assert signer is not None
    signed_in = await start_session(db, boss.id)  # a real session id: only the signature is forged
    client.set_cookie("localhost", "session", signer.dumps({"sid": signed_in}))
    response = await client.get("/admin/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    token = jwt.encode({"sub": str(boss.id), "epoch": 0, "exp": 4102444800},
                       "dev-only-insecure-secret-change-me", algorithm="HS256")
    answer = await client.get("/api/user", headers={"Authorization": f"Token {token}"})
    assert answer.status_code == 401
    # The control: the same cookie signed with this instance's secret is accepted.
    minting.secret_key = app.secret_key
    real = SecureCookieSessionInterface().get_signing_serializer(minting)
    assert real is not None
    client.set_cookie("localhost", "session", real.dumps({"sid": signed_in}))
    assert (await client.get("/admin/")).status_code == 200
