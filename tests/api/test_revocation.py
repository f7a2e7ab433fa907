"""Revocable sign-ins: the session cookie names a server-side session that signing out ends, and a
new password (or "sign out everywhere") ends every other session and every API token."""

from __future__ import annotations

from typing import Any

import httpx
from quart import Quart
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.api import PASSWORD, auth, errors
from tests.support.site import make_user, page_text, post, sign_in


def _session_cookie(client: Any) -> str:
    (cookie,) = [c for c in client.cookie_jar if c.name == "session"]
    return str(cookie.value)


async def _signed_in(client: Any, name: str) -> bool:
    return f'href="/profile/{name}"' in await page_text(client, "/")


async def test_a_cookie_copied_before_sign_out_is_dead_after_it(app: Quart, client,
                                                                db: AsyncSession) -> None:
    await make_user(db, "copy")
    await sign_in(client, "copy")
    copied = _session_cookie(client)
    thief = app.test_client()
    thief.set_cookie("localhost", "session", copied)
    assert await _signed_in(thief, "copy")  # the copy works while the session lives
    await post(client, "/logout", token_page="/")
    assert not await _signed_in(client, "copy")
    assert not await _signed_in(thief, "copy")  # before: still signed in
    assert (await thief.get("/settings")).status_code == 302


async def _api_token(http: httpx.AsyncClient, email: str, password: str) -> str:
    answer = await http.post("/api/users/login", json={"user": {"email": email, "password": password}})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["user"]["token"]
    return token


async def test_a_new_password_on_the_site_ends_every_other_session_and_token(
        app: Quart, client, http: httpx.AsyncClient, db: AsyncSession) -> None:
    await make_user(db, "moves")
    other = app.test_client()
    await sign_in(client, "moves")
    await sign_in(other, "moves")
    token = await _api_token(http, "moves@example.test", "correct horse battery")
    changed = await post(client, "/settings", {"username": "moves", "email": "moves@example.test",
                                               "password": "a brand new password"})
    assert changed.status_code == 302
    assert await _signed_in(client, "moves")  # the browser that changed it stays signed in
    assert not await _signed_in(other, "moves")
    refused = await http.get("/api/user", headers=auth(token))
    assert refused.status_code == 401
    assert errors(refused) == {"token": [
        "has been revoked (the password changed, or the account signed out everywhere)"]}
    assert (await http.get("/api/user", headers=auth(
        await _api_token(http, "moves@example.test", "a brand new password")))).status_code == 200


async def test_a_new_password_through_the_api_revokes_every_other_token(
        client, http: httpx.AsyncClient, db: AsyncSession) -> None:
    """The token that changed the password stays valid (before: 401 "has been revoked", which
    broke the RealWorld Bruno suite's step 20); every other token and session dies."""
    answer = await http.post("/api/users", json={"user": {
        "username": "apiuser", "email": "apiuser@example.test", "password": PASSWORD}})
    presenting = answer.json()["user"]["token"]
    other = await _api_token(http, "apiuser@example.test", PASSWORD)
    await sign_in(client, "apiuser", PASSWORD)
    changed = await http.put("/api/user", headers=auth(presenting),
                             json={"user": {"password": "another long password"}})
    assert changed.status_code == 200
    new = changed.json()["user"]["token"]
    assert new != presenting
    assert (await http.get("/api/user", headers=auth(other))).status_code == 401
    assert (await http.get("/api/user", headers=auth(presenting))).status_code == 200
    assert (await http.get("/api/user", headers=auth(new))).status_code == 200
    # A second change through the new token: the first one's keep ends, the new one is kept.
    again = await http.put("/api/user", headers=auth(new),
                           json={"user": {"password": "a third long password"}})
    assert again.status_code == 200
    assert (await http.get("/api/user", headers=auth(presenting))).status_code == 401
    assert (await http.get("/api/user", headers=auth(new))).status_code == 200
    new = again.json()["user"]["token"]
    assert not await _signed_in(client, "apiuser")  # the site's sessions ended too
    bio = await http.put("/api/user", headers=auth(new), json={"user": {"bio": "same token"}})
    assert bio.json()["user"]["token"] == new  # no new password: the token stays


async def test_sign_out_everywhere(app: Quart, client, http: httpx.AsyncClient,
                                   db: AsyncSession) -> None:
    await make_user(db, "every")
    other = app.test_client()
    await sign_in(client, "every")
    await sign_in(other, "every")
    token = await _api_token(http, "every@example.test", "correct horse battery")
    kept = await http.put("/api/user", headers=auth(token),
                          json={"user": {"password": "a new long password"}})
    assert kept.status_code == 200 and (await http.get("/api/user", headers=auth(token))).status_code == 200
    await sign_in(client, "every", "a new long password")
    response = await post(client, "/logout/everywhere")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert not await _signed_in(client, "every") and not await _signed_in(other, "every")
    assert (await http.get("/api/user", headers=auth(token))).status_code == 401  # the kept one too
    assert (await post(client, "/logout/everywhere", token_page="/login")).status_code == 302
