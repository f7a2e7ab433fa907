"""Rate limits on sign-in, registration, password changes and writes: per address and per account,
answered 429 with Retry-After (JSON under /api, the error page on the site). In-process here (the
database's counters); tests/serving/test_rate_limits_live.py proves them across two workers and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from quart import Quart
from sqlalchemy.ext.asyncio import AsyncSession

from app import create_app
from tests.support.api import PASSWORD, auth, errors, new_article, register
from tests.support.metrics import figure
from tests.support.servers import free_port
from tests.support.site import make_user, token_for

PROXY = "127.0.0.1"  # httpx's ASGI transport says the peer is 127.0.0.1


@pytest.fixture
async def limited(app: Quart, database_url: str) -> AsyncIterator[Quart]:
    """The app with its limits on (the testing default is off), behind a trusted proxy at PROXY.
    Asking for ``app`` too makes the suite's cleanup empty the counters afterwards."""
    application = create_app({"env": "testing", "database_url": database_url, "rate_limits": True,
                              "trusted_proxies": PROXY})
    async with application.test_app():
        yield application


def _http(application: Quart, peer: str = PROXY) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application, client=(peer, 1234))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://conduit.test")


async def _login(http: httpx.AsyncClient, email: str, password: str = "wrong password",
                 forwarded_for: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return await http.post("/api/users/login", headers=headers,
                           json={"user": {"email": email, "password": password}})


def _assert_limited(answer: httpx.Response, what: str) -> None:
    assert answer.status_code == 429, answer.text
    assert 1 <= int(answer.headers["Retry-After"]) <= 3600
    (message,) = errors(answer)["limit"]
    assert message.startswith(f"reached: too many {what}; try again in ")


async def test_the_11th_wrong_password_from_one_address_is_refused(limited: Quart) -> None:
    async with _http(limited) as http:
        await register(http, "target")
        for _ in range(10):
            assert (await _login(http, "target@example.test")).status_code == 401
        counted = figure("conduit_rate_limit_refusals_total", rule="signin")
        _assert_limited(await _login(http, "target@example.test"), "sign-in attempts")
        # From that address the right password waits too (no argon2 hash is spent on it).
        _assert_limited(await _login(http, "target@example.test", PASSWORD), "sign-in attempts")
        assert figure("conduit_rate_limit_refusals_total", rule="signin") == counted + 2


async def test_a_stranger_cannot_lock_the_owner_out(limited: Quart) -> None:
    """Before: 21 wrong passwords from one address made the owner's right one from another
    address 429 for the rest of the minute (the account's limit came before the password)."""
    async with _http(limited) as http:
        await register(http, "owner")
        for _ in range(21):
            await _login(http, "owner@example.test", forwarded_for="203.0.113.66")
        _assert_limited(await _login(http, "owner@example.test", forwarded_for="203.0.113.66"),
                        "sign-in attempts")
        # The owner, from an address that never signed in before: admitted.
        answer = await _login(http, "owner@example.test", PASSWORD, forwarded_for="192.0.2.10")
        assert answer.status_code == 200, answer.text


async def test_many_addresses_guessing_one_account_wait_but_known_ones_do_not(limited: Quart) -> None:
    async with _http(limited) as http:
        await register(http, "victim")
        known = await _login(http, "victim@example.test", PASSWORD, forwarded_for="192.0.2.20")
        assert known.status_code == 200
        for number in range(100):  # 100 wrong an hour, from ten addresses (ten each: their own limit)
            answer = await _login(http, "Victim@Example.test", forwarded_for=f"198.51.100.{number % 10}")
            assert answer.status_code == 401, number
        # Another spelling of the same e-mail, from yet another address: that account, refused,
        # even with the right password.
        _assert_limited(await _login(http, "  victim@EXAMPLE.test ", forwarded_for="198.51.100.99"),
                        "sign-in attempts")
        _assert_limited(await _login(http, "victim@example.test", PASSWORD,
                                     forwarded_for="198.51.100.98"), "sign-in attempts")
        # The address the owner signed in from is still let in; another account is not affected.
        answer = await _login(http, "victim@example.test", PASSWORD, forwarded_for="192.0.2.20")
        assert answer.status_code == 200, answer.text
        answer = await _login(http, "other@example.test", forwarded_for="198.51.100.100")
        assert answer.status_code == 401


async def test_the_owners_own_sign_ins_never_lock_the_account(limited: Quart) -> None:
    async with _http(limited) as http:
        await register(http, "regular")
        for number in range(25):  # from 25 addresses: only the address limit counts every try
            answer = await _login(http, "regular@example.test", PASSWORD,
                                  forwarded_for=f"192.0.2.{number}")
            assert answer.status_code == 200


async def test_an_account_named_like_an_address_does_not_count_against_it(limited: Quart) -> None:
    async with _http(limited) as http:
        for number in range(25):
            await _login(http, "198.51.100.7", forwarded_for=f"198.51.100.{100 + number}")
        assert (await _login(http, "a@example.test", forwarded_for="198.51.100.7")).status_code == 401


async def test_ipv6_clients_are_counted_by_their_64(limited: Quart) -> None:
    async with _http(limited) as http:
        for number in range(20):
            answer = await _login(http, f"v6{number}@example.test", forwarded_for=f"2001:db8::{number}")
            assert answer.status_code == 401
        answer = await _login(http, "v6@example.test", forwarded_for="2001:db8::ffff:1234")
        _assert_limited(answer, "sign-in attempts")
        answer = await _login(http, "v6@example.test", forwarded_for="2001:db8:0:1::1")  # another /64
        assert answer.status_code == 401


async def test_an_address_is_limited_whatever_account_it_tries(limited: Quart) -> None:
    async with _http(limited) as http:
        for number in range(20):
            answer = await _login(http, f"user{number}@example.test", forwarded_for="203.0.113.7")
            assert answer.status_code == 401
        _assert_limited(await _login(http, "fresh@example.test", forwarded_for="203.0.113.7"),
                        "sign-in attempts")
        assert (await _login(http, "fresh@example.test", forwarded_for="203.0.113.8")).status_code == 401


async def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(limited: Quart) -> None:
    async with _http(limited, peer="192.0.2.50") as http:  # not a configured proxy
        for number in range(20):
            answer = await _login(http, f"user{number}@example.test", forwarded_for=f"10.0.0.{number}")
            assert answer.status_code == 401
        # Before: every forged address got its own 20 tries.
        _assert_limited(await _login(http, "fresh@example.test", forwarded_for="10.0.0.99"),
                        "sign-in attempts")


async def test_only_the_hops_the_proxies_added_are_believed(limited: Quart) -> None:
    """X-Forwarded-For is read from the right: what the client wrote on the left is not trusted."""
    async with _http(limited) as http:
        for number in range(20):
            forged = f"10.1.1.{number}, 203.0.113.9"  # the proxy appended the real 203.0.113.9
            assert (await _login(http, f"u{number}@example.test", forwarded_for=forged)).status_code == 401
        _assert_limited(await _login(http, "x@example.test", forwarded_for="10.9.9.9, 203.0.113.9"),
                        "sign-in attempts")


async def test_site_sign_in_is_limited_with_the_error_page(limited: Quart, db: AsyncSession) -> None:
    await make_user(db, "walker")
    client = limited.test_client()
    token = await token_for(client, "/login")
    form = {"email": "walker@example.test", "password": "wrong", "csrf_token": token}
    for _ in range(10):
        answer = await client.post("/login", form=form)
        assert answer.status_code == 200
        assert "Wrong e-mail or password." in await answer.get_data(as_text=True)
    answer = await client.post("/login", form=form)
    assert answer.status_code == 429
    assert 1 <= int(answer.headers["Retry-After"]) <= 900
    assert answer.mimetype == "text/html"
    page = await answer.get_data(as_text=True)
    assert "429 Too Many Requests" in page
    assert "too many sign-in attempts; try again in" in page


async def test_registrations_from_one_address_are_limited(limited: Quart) -> None:
    async with _http(limited) as http:
        for number in range(20):
            await register(http, f"newcomer{number}")
        answer = await http.post("/api/users", json={"user": {
            "username": "one_too_many", "email": "one@example.test", "password": PASSWORD}})
        _assert_limited(answer, "registrations from this address")
        assert (await http.get("/api/profiles/one_too_many")).status_code == 404  # nothing written


async def test_password_changes_are_limited_per_account(limited: Quart) -> None:
    async with _http(limited) as http:
        token = await register(http, "changer")
        for number in range(5):
            answer = await http.put("/api/user", headers=auth(token),
                                    json={"user": {"password": f"new password {number}"}})
            assert answer.status_code == 200, answer.text
            token = answer.json()["user"]["token"]  # a new password revokes the old token
        answer = await http.put("/api/user", headers=auth(token),
                                json={"user": {"password": "yet another password"}})
        _assert_limited(answer, "password changes")
        # Other changes still go through (they are writes, far below their limit).
        answer = await http.put("/api/user", headers=auth(token), json={"user": {"bio": "hi"}})
        assert answer.status_code == 200


async def test_writes_are_limited_per_account(limited: Quart) -> None:
    async with _http(limited) as http:
        writer = await register(http, "busy")
        reader = await register(http, "calm")
        slug = (await new_article(http, writer))["slug"]  # write 1
        for number in range(59):
            method = http.post if number % 2 == 0 else http.delete
            answer = await method(f"/api/articles/{slug}/favorite", headers=auth(writer))
            assert answer.status_code == 200
        _assert_limited(await http.post(f"/api/articles/{slug}/favorite", headers=auth(writer)),
                        "changes")
        # Reading is not limited, and another account writes on.
        assert (await http.get(f"/api/articles/{slug}", headers=auth(writer))).status_code == 200
        assert (await http.post(f"/api/articles/{slug}/favorite", headers=auth(reader))).status_code == 200


async def test_limits_are_off_in_testing_unless_asked_for(http: httpx.AsyncClient) -> None:
    await register(http, "tester")
    for _ in range(25):
        assert (await _login(http, "tester@example.test")).status_code == 401


async def test_an_unreachable_redis_is_a_503_not_a_500(app: Quart, database_url: str) -> None:
    """The counters are unreachable: the answer says so and when to come back (no try is let
    through uncounted, and nothing hangs: redis-py gives up after 3 s at most)."""
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    application = create_app({"env": "testing", "database_url": database_url, "rate_limits": True,
                              "redis_url": nowhere})
    async with application.test_app(), _http(application) as http:
        answer = await _login(http, "someone@example.test")
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "5"
        assert errors(answer) == {"redis": ["is unavailable just now; try again in a few seconds"]}
