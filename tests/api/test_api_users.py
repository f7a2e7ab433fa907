"""The API's users, authentication and profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt
from quart import Quart
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.tokens import issue_token, read_token
from app.domain import users
from app.domain.limits import ID_MAX
from app.domain.sessions import start_session
from app.domain.users import get_account
from app.infra.database import get_database
from app.infra.settings import Settings
from app.models import User
from tests.support.api import JSON_TYPE, PASSWORD, auth, errors, register


def settings_of(app: Quart) -> Settings:
    value: Settings = app.config["CONDUIT"]
    return value


# Register and log in ------------------------------------------------------------------------


async def test_register_answers_201_with_the_user_and_a_working_token(http: httpx.AsyncClient,
                                                                      app: Quart) -> None:
    response = await http.post("/api/users", json={"user": {
        "username": "Jacob", "email": "Jake@Jake.jake", "password": "jakejake"}})
    assert response.status_code == 201
    assert response.headers["content-type"] == JSON_TYPE
    user = response.json()["user"]
    assert set(user) == {"email", "token", "username", "bio", "image"}
    assert (user["username"], user["email"], user["bio"], user["image"]) == (
        "Jacob", "jake@jake.jake", None, None)
    claims = jwt.decode(user["token"], settings_of(app).secret_key, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == settings_of(app).jwt_expiry_seconds
    me = await http.get("/api/user", headers=auth(user["token"]))
    assert me.status_code == 200 and me.json()["user"]["username"] == "Jacob"


async def test_register_refuses_taken_username_and_email_with_409(http: httpx.AsyncClient) -> None:
    await register(http, "jake")
    response = await http.post("/api/users", json={"user": {
        "username": "JAKE", "email": "jake@example.test", "password": PASSWORD}})
    assert response.status_code == 409
    assert errors(response) == {"username": ["has already been taken"],
                                "email": ["has already been taken"]}
    response = await http.post("/api/users", json={"user": {
        "username": "other", "email": "JAKE@example.test", "password": PASSWORD}})
    assert response.status_code == 409
    assert errors(response) == {"email": ["has already been taken"]}


async def test_register_blank_or_missing_fields_are_422(http: httpx.AsyncClient) -> None:
    for user, field in [({"email": "a@b.test", "password": PASSWORD}, "username"),
                        ({"username": "", "email": "a@b.test", "password": PASSWORD}, "username"),
                        ({"username": "a", "email": "  ", "password": PASSWORD}, "email"),
                        ({"username": "a", "email": "a@b.test", "password": None}, "password")]:
        response = await http.post("/api/users", json={"user": user})
        assert response.status_code == 422, user
        assert errors(response) == {field: ["can't be blank"]}
    everything = await http.post("/api/users", json={"user": {"username": " ", "email": ""}})
    assert everything.status_code == 422  # every problem at once, as a form shows them
    assert errors(everything) == {field: ["can't be blank"] for field in ("username", "email", "password")}
    short = await http.post("/api/users", json={"user": {
        "username": "a", "email": "a@b.test", "password": "short"}})
    assert short.status_code == 422 and list(errors(short)) == ["password"]


async def test_login_answers_the_user_and_wrong_credentials_are_401(http: httpx.AsyncClient) -> None:
    await register(http, "jake")
    good = await http.post("/api/users/login", json={"user": {
        "email": "JAKE@example.test", "password": PASSWORD}})
    assert good.status_code == 200
    assert good.json()["user"]["username"] == "jake"
    assert (await http.get("/api/user", headers=auth(good.json()["user"]["token"]))).status_code == 200
    for email, password in [("jake@example.test", "wrong-password"), ("nobody@example.test", PASSWORD)]:
        bad = await http.post("/api/users/login", json={"user": {"email": email, "password": password}})
        assert bad.status_code == 401
        assert errors(bad) == {"credentials": ["invalid"]}


async def test_login_with_blank_fields_is_422(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/users/login", json={"user": {"email": "", "password": ""}})
    assert response.status_code == 422
    assert errors(response) == {"email": ["can't be blank"], "password": ["can't be blank"]}


async def test_an_api_account_signs_in_through_the_domain_the_site_uses(
        http: httpx.AsyncClient, db: AsyncSession) -> None:
    await register(http, "crossface", password="api-made-password")
    account = await users.authenticate(db, email="crossface@example.test",
                                       password="api-made-password")
    assert account.username == "crossface"


async def test_a_domain_made_account_logs_in_through_the_api(http: httpx.AsyncClient,
                                                             db: AsyncSession) -> None:
    await users.register(db, username="sitemade", email="site@example.test",
                         password="site-made-password")
    response = await http.post("/api/users/login", json={"user": {
        "email": "site@example.test", "password": "site-made-password"}})
    assert response.status_code == 200 and response.json()["user"]["username"] == "sitemade"


# The current user --------------------------------------------------------------------------


async def test_get_user_returns_the_callers_token(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    response = await http.get("/api/user", headers=auth(token))
    assert response.json()["user"] == {"email": "jake@example.test", "token": token,
                                       "username": "jake", "bio": None, "image": None}


async def test_put_user_is_partial_and_empty_bio_or_image_is_null(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    first = await http.put("/api/user", headers=auth(token), json={"user": {
        "bio": "I like to skateboard", "image": "https://i.example/a.png"}})
    assert first.status_code == 200
    assert first.json()["user"]["bio"] == "I like to skateboard"
    second = await http.put("/api/user", headers=auth(token), json={"user": {"username": "jacob"}})
    user = second.json()["user"]
    assert (user["username"], user["bio"], user["image"], user["email"]) == (
        "jacob", "I like to skateboard", "https://i.example/a.png", "jake@example.test")
    cleared = await http.put("/api/user", headers=auth(token), json={"user": {"bio": "", "image": None}})
    assert (cleared.json()["user"]["bio"], cleared.json()["user"]["image"]) == (None, None)
    assert (await http.get("/api/user", headers=auth(token))).json()["user"]["bio"] is None


async def test_put_user_refuses_empty_or_null_identity_fields(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    for field, value in [("username", ""), ("username", None), ("email", ""), ("email", None),
                         ("password", ""), ("password", None)]:
        response = await http.put("/api/user", headers=auth(token), json={"user": {field: value}})
        assert response.status_code == 422, (field, value)
        assert errors(response) == {field: ["can't be blank"]}
    short = await http.put("/api/user", headers=auth(token), json={"user": {"password": "1234567"}})
    assert short.status_code == 422 and list(errors(short)) == ["password"]


async def test_put_user_changes_the_password_and_accepts_64_characters(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    long_password = "p" * 64
    response = await http.put("/api/user", headers=auth(token), json={"user": {"password": long_password}})
    assert response.status_code == 200
    old = await http.post("/api/users/login", json={"user": {"email": "jake@example.test",
                                                             "password": PASSWORD}})
    new = await http.post("/api/users/login", json={"user": {"email": "jake@example.test",
                                                             "password": long_password}})
    assert (old.status_code, new.status_code) == (401, 200)


async def test_put_user_to_a_taken_name_or_email_is_409(http: httpx.AsyncClient) -> None:
    await register(http, "taken")
    token = await register(http, "jake")
    response = await http.put("/api/user", headers=auth(token), json={"user": {
        "username": "Taken", "email": "taken@example.test"}})
    assert response.status_code == 409
    assert errors(response) == {"username": ["has already been taken"],
                                "email": ["has already been taken"]}


async def test_put_user_ignores_fields_it_does_not_know(http: httpx.AsyncClient) -> None:
    # Front ends send the whole user object back, token included.
    token = await register(http, "jake")
    response = await http.put("/api/user", headers=auth(token), json={"user": {
        "token": "whatever", "id": 99, "bio": "hello"}})
    assert response.status_code == 200 and response.json()["user"]["bio"] == "hello"


# Tokens -------------------------------------------------------------------------------------


async def test_protected_routes_without_a_token_are_401_is_missing(http: httpx.AsyncClient) -> None:
    routes = [("GET", "/api/user"), ("PUT", "/api/user"), ("GET", "/api/articles/feed"),
              ("POST", "/api/articles"), ("PUT", "/api/articles/any"),
              ("DELETE", "/api/articles/any"), ("POST", "/api/articles/any/favorite"),
              ("DELETE", "/api/articles/any/favorite"), ("POST", "/api/articles/any/comments"),
              ("DELETE", "/api/articles/any/comments/1"), ("POST", "/api/profiles/any/follow"),
              ("DELETE", "/api/profiles/any/follow")]
    for method, path in routes:
        response = await http.request(method, path, json={"anything": 1})
        assert response.status_code == 401, (method, path)
        assert errors(response) == {"token": ["is missing"]}
        assert response.headers["www-authenticate"] == "Token"


async def test_bad_tampered_expired_and_orphaned_tokens_are_401(http: httpx.AsyncClient, app: Quart,
                                                               db: AsyncSession) -> None:
    token = await register(http, "jake")
    settings = settings_of(app)
    user_id, epoch = read_token(settings, token)
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    forged = jwt.encode({"sub": str(user_id), "epoch": epoch,
                         "exp": datetime.now(UTC) + timedelta(hours=1)},
                        "another-secret-of-sufficient-length!", algorithm="HS256")
    account = await get_account(db, user_id)
    assert account is not None
    expired = issue_token(settings, account, now=datetime.now(UTC) - timedelta(days=400))
    cases = {"not-a-jwt": "is invalid", tampered: "is invalid", forged: "is invalid",
             expired: "has expired"}
    for bad, reason in cases.items():
        for path in ("/api/user", "/api/articles"):  # protected, and optional-auth
            response = await http.get(path, headers=auth(bad))
            assert response.status_code == 401, (bad, path)
            assert errors(response) == {"token": [reason]}
    malformed = await http.get("/api/articles", headers={"Authorization": "Basic abc"})
    assert malformed.status_code == 401 and list(errors(malformed)) == ["token"]
    await db.execute(delete(User).where(User.id == user_id))
    await db.commit()
    orphan = await http.get("/api/user", headers=auth(token))
    assert orphan.status_code == 401 and list(errors(orphan)) == ["token"]


async def test_a_signed_token_for_an_id_past_the_id_range_is_401(http: httpx.AsyncClient,
                                                                   app: Quart) -> None:
    """Only the secret's holder can sign one, but it must not reach the database: PostgreSQL's
    ids are 32-bit and asyncpg refused the parameter ("value out of int32 range"), a 500."""
    settings = settings_of(app)
    for subject in (ID_MAX + 1, 2**32, 10**17, 0):
        token = jwt.encode({"sub": str(subject), "epoch": 0,
                            "exp": datetime.now(UTC) + timedelta(hours=1)},
                           settings.secret_key, algorithm="HS256")
        for path in ("/api/user", "/api/articles"):  # protected, and optional-auth
            response = await http.get(path, headers=auth(token))
            assert response.status_code == 401, (subject, path, response.text)
            assert list(errors(response)) == ["token"]


async def test_bearer_scheme_is_accepted_too(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    response = await http.get("/api/user", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


async def test_the_api_never_signs_in_from_the_session_cookie(app: Quart, http: httpx.AsyncClient
                                                              ) -> None:
    token = await register(http, "jake")
    user_id, _epoch = read_token(settings_of(app), token)
    client = app.test_client()
    async with app.app_context():
        maker = get_database(app).sessionmaker
        assert maker is not None
        async with maker() as db:
            signed_in = await start_session(db, user_id)
    async with client.session_transaction() as session:
        session["sid"] = signed_in  # a real signed-in site session
    response = await client.get("/api/user")
    assert response.status_code == 401
    assert (await response.get_json()) == {"errors": {"token": ["is missing"]}}


# Profiles -----------------------------------------------------------------------------------


async def test_profile_is_public_and_shows_following_to_the_caller(http: httpx.AsyncClient) -> None:
    await register(http, "celeb")
    fan = await register(http, "fan")
    anonymous = await http.get("/api/profiles/celeb")
    assert anonymous.status_code == 200
    assert anonymous.json() == {"profile": {"username": "celeb", "bio": None, "image": None,
                                            "following": False}}
    followed = await http.post("/api/profiles/celeb/follow", headers=auth(fan))
    assert followed.status_code == 200 and followed.json()["profile"]["following"] is True
    seen = await http.get("/api/profiles/CELEB", headers=auth(fan))
    assert seen.json()["profile"]["following"] is True
    assert (await http.get("/api/profiles/celeb")).json()["profile"]["following"] is False
    unfollowed = await http.delete("/api/profiles/celeb/follow", headers=auth(fan))
    assert unfollowed.status_code == 200 and unfollowed.json()["profile"]["following"] is False
    again = await http.get("/api/profiles/celeb", headers=auth(fan))
    assert again.json()["profile"]["following"] is False


async def test_unknown_profile_is_404_and_auth_comes_before_existence(http: httpx.AsyncClient) -> None:
    token = await register(http, "jake")
    assert errors(await http.get("/api/profiles/nobody")) == {"profile": ["not found"]}
    without = await http.post("/api/profiles/nobody/follow")
    assert without.status_code == 401
    with_token = await http.post("/api/profiles/nobody/follow", headers=auth(token))
    assert with_token.status_code == 404 and errors(with_token) == {"profile": ["not found"]}
    unfollow = await http.delete("/api/profiles/nobody/follow", headers=auth(token))
    assert unfollow.status_code == 404


async def test_following_yourself_is_403(http: httpx.AsyncClient) -> None:
    # 403, not 422: the request is well formed (the OpenAPI document cannot tell it apart).
    token = await register(http, "jake")
    response = await http.post("/api/profiles/jake/follow", headers=auth(token))
    assert response.status_code == 403
    assert errors(response) == {"profile": ["cannot follow yourself"]}

