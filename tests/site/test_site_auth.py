"""Sign up, sign in, sign out, sessions, g.user and CSRF on the site (Quart's test client)."""

from __future__ import annotations

import pytest
from quart import Quart
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.infra.database import get_database
from app.models import User
from app.site.next_url import is_safe_next
from tests.conftest import TEST_PASSWORD
from tests.support.database import count_queries
from tests.support.site import make_user, page_text, post, sign_in, token_for


async def _users(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count(User.id))) or 0)


async def test_sign_up_signs_the_new_user_in(client, db: AsyncSession) -> None:
    token = await token_for(client, "/register")
    response = await client.post("/register", form={
        "username": "dana", "email": "Dana@Example.test", "password": "long enough",
        "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["location"] == "/"
    home = await page_text(client, "/")
    assert "Welcome to Conduit, dana!" in home
    assert 'href="/profile/dana"' in home and "Sign out" in home
    assert await _users(db) == 1


@pytest.mark.parametrize(("form", "message"), [
    ({"username": "", "email": "e@example.test", "password": "long enough"}, "Username can&#39;t be blank"),
    ({"username": "eve", "email": "e@example.test", "password": "short"},
     "Password is too short (minimum is 8 characters)"),
    ({"username": "eve", "email": "not-an-email", "password": "long enough"}, "Email is invalid"),
    ({"username": "bad name!", "email": "e@example.test", "password": "long enough"},
     "Username must be 1 to 64 letters"),
])
async def test_sign_up_shows_errors_beside_the_fields(client, db: AsyncSession, form, message) -> None:
    response = await post(client, "/register", form, token_page="/register")
    assert response.status_code == 200
    html = (await response.get_data()).decode()
    assert message in html
    assert 'aria-invalid="true"' in html
    assert await _users(db) == 0


async def test_sign_up_with_a_taken_username_or_email_is_refused(client, db: AsyncSession) -> None:
    await make_user(db, "frank")
    response = await post(client, "/register", {"username": "FRANK", "email": "frank@example.test",
                                                "password": "long enough"}, token_page="/register")
    html = (await response.get_data()).decode()
    assert "Username has already been taken" in html
    assert "Email has already been taken" in html
    assert await _users(db) == 1


@pytest.mark.parametrize("token", [None, "", "not-a-token"])
async def test_sign_up_without_a_valid_csrf_token_is_refused(client, db: AsyncSession, token) -> None:
    await page_text(client, "/register")  # the session has a CSRF secret; the form lacks the token
    form = {"username": "gina", "email": "gina@example.test", "password": "long enough"}
    if token is not None:
        form["csrf_token"] = token
    response = await client.post("/register", form=form, headers={"Accept": "text/html"})
    assert response.status_code == 400
    html = (await response.get_data()).decode()
    assert "400 Bad Request" in html and "CSRF" in html
    assert "Traceback" not in html
    assert await _users(db) == 0


async def test_a_token_from_another_session_is_refused(app: Quart, client, db: AsyncSession) -> None:
    other_token = await token_for(app.test_client(), "/register")
    await page_text(client, "/register")
    response = await client.post("/register", form={
        "username": "hal", "email": "hal@example.test", "password": "long enough",
        "csrf_token": other_token})
    assert response.status_code == 400
    assert await _users(db) == 0


async def test_sign_in_and_sign_out(client, db: AsyncSession) -> None:
    await make_user(db, "ines")
    await sign_in(client, "ines")
    assert "Welcome back, ines." in await page_text(client, "/")
    async with client.session_transaction() as session:
        assert isinstance(session["sid"], str) and len(session["sid"]) >= 32
    response = await post(client, "/logout", token_page="/")
    assert response.status_code == 302
    home = await page_text(client, "/")
    assert "You are signed out." in home
    assert "Sign in" in home and "Sign out" not in home
    async with client.session_transaction() as session:
        assert "sid" not in session


async def test_sign_out_needs_post_and_a_csrf_token(client, db: AsyncSession) -> None:
    await make_user(db, "jack")
    await sign_in(client, "jack")
    assert (await client.get("/logout")).status_code == 405
    assert (await client.post("/logout")).status_code == 400
    assert 'href="/profile/jack"' in await page_text(client, "/")  # still signed in


async def test_wrong_password_and_unknown_email_get_the_same_answer(client, db: AsyncSession) -> None:
    await make_user(db, "kim")
    answers = []
    for email, password in [("kim@example.test", "wrong password"),
                            ("nobody@example.test", TEST_PASSWORD)]:
        response = await post(client, "/login", {"email": email, "password": password},
                              token_page="/login")
        assert response.status_code == 200
        html = (await response.get_data()).decode()
        assert "Wrong e-mail or password." in html
        answers.append(html.count("error"))
    assert answers[0] == answers[1]
    async with client.session_transaction() as session:
        assert "sid" not in session


async def test_sign_in_with_blank_fields_shows_field_errors(client) -> None:
    response = await post(client, "/login", {"email": "", "password": ""}, token_page="/login")
    html = (await response.get_data()).decode()
    assert "Email can&#39;t be blank" in html and "Password can&#39;t be blank" in html


async def test_anonymous_visitors_are_sent_to_sign_in_and_back(client, db: AsyncSession) -> None:
    await make_user(db, "lou")
    response = await client.get("/settings")
    assert response.status_code == 302
    assert response.headers["location"] == "/login?next=/settings"
    login_page = await page_text(client, "/login?next=/settings")
    assert 'name="next" type="hidden" value="/settings"' in login_page
    response = await client.post("/login", form={
        "email": "lou@example.test", "password": TEST_PASSWORD, "next": "/settings",
        "csrf_token": await token_for(client, "/login")})
    assert response.headers["location"] == "/settings"


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)", "http:/evil.example"])
async def test_next_pointing_off_site_is_not_followed(client, db: AsyncSession, target) -> None:
    await make_user(db, "mia")
    response = await client.post("/login", form={
        "email": "mia@example.test", "password": TEST_PASSWORD, "next": target,
        "csrf_token": await token_for(client, f"/login?next={target}")})
    assert response.status_code == 302
    assert response.headers["location"] == "/"


def test_is_safe_next() -> None:
    assert is_safe_next("/article/x?page=2")
    for bad in [None, "", "https://evil.example", "//evil.example", "/\\evil", "evil", "/a\nb",
                "\\\\evil"]:
        assert not is_safe_next(bad), bad


async def test_signed_in_users_skip_the_sign_in_pages(client, db: AsyncSession) -> None:
    await make_user(db, "ned")
    await sign_in(client, "ned")
    for path in ("/login", "/register"):
        response = await client.get(path)
        assert response.status_code == 302 and response.headers["location"] == "/"


async def test_session_cookie_is_httponly_and_samesite_lax(client, db: AsyncSession) -> None:
    await make_user(db, "ola")
    response = await sign_in(client, "ola")
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


async def test_g_user_costs_one_query_and_none_without_a_cookie(app: Quart, client,
                                                                db: AsyncSession) -> None:
    await make_user(db, "pia")
    engine = get_database(app).engine
    assert engine is not None
    with count_queries(engine) as anonymous:
        assert (await client.get("/healthz")).status_code == 200
    assert anonymous == []
    await sign_in(client, "pia")
    with count_queries(engine) as signed_in:
        assert (await client.get("/healthz")).status_code == 200
    assert signed_in == []  # the probe is not the site's: its hooks do not run there
    with count_queries(engine) as page:
        assert (await client.get("/login")).status_code == 302  # signed in already: go home
    assert len(page) == 1 and "JOIN users" in page[0]  # the session's row and its user, at once


async def test_the_api_never_reads_the_session_cookie(app: Quart, client, db: AsyncSession) -> None:
    await make_user(db, "quin")
    await sign_in(client, "quin")
    engine = get_database(app).engine
    assert engine is not None
    with count_queries(engine) as statements:
        await client.get("/api/tags")
    assert not any("FROM users" in statement for statement in statements)


async def test_a_deleted_account_signs_the_session_out(client, db: AsyncSession) -> None:
    account = await make_user(db, "rui")
    await sign_in(client, "rui")
    user = await db.get(User, account.id)
    await db.delete(user)
    await db.commit()
    home = await page_text(client, "/")
    assert "Sign in" in home and "rui" not in home
    async with client.session_transaction() as session:
        assert "sid" not in session
