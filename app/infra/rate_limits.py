"""Rate limits as the views apply them: on sign-in, registration, password changes and writes, per
client address and per account.

A view calls ``limit`` (or, for a sign-in, ``limit_signin`` before the password is checked and
``signin_failed`` / ``signed_in`` after); ``limit_writes`` runs before every request of both faces.
Each finds the client (app/infra/client_address.py: behind a trusted proxy, from
``X-Forwarded-For``) and the account as the domain matches it, and hands them to the app's limiter
(app/infra/rate_limiter.py), which counts them against the rules (app/infra/rate_limit_rules.py). A
refused request raises ``RateLimited``; each face answers it (429 with ``Retry-After``).
"""

from __future__ import annotations

from quart import g, request

from app.infra.client_address import client_address
from app.infra.rate_limiter import get_limiter

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def limit(name: str, account: str | int | None = None) -> None:
    """Count one try at ``name`` (a RULES key) for this client, and for ``account`` if given
    (sign-in has its own: ``limit_signin``)."""
    limiter = get_limiter()
    if limiter.storage is not None:
        await limiter.hit(name, client_address(limiter.proxies), account_key(account))


async def limit_signin(email: str | None) -> None:
    """Before a sign-in's password is checked (and hashed): see ``Limiter.hit_signin``."""
    limiter = get_limiter()
    await limiter.hit_signin(client_address(limiter.proxies), account_key(email) or "")


async def signin_failed(email: str | None) -> None:
    limiter = get_limiter()
    await limiter.signin_failed(client_address(limiter.proxies), account_key(email) or "")


async def signed_in(email: str | None) -> None:
    """The password was right: this address is known to the account for 30 days."""
    limiter = get_limiter()
    await limiter.signed_in(client_address(limiter.proxies), account_key(email) or "")


def account_key(account: str | int | None) -> str | None:
    """An account as the domain finds it: e-mails are matched trimmed and in lower case."""
    return None if account is None else str(account).strip().lower()


async def limit_writes() -> None:
    """before_request of the site and the API: a signed-in user's changes count against ``write``
    (sign-in and registration have their own rules, counted in their views)."""
    if request.method in UNSAFE_METHODS and g.get("user") is not None:
        await limit("write", g.user.id)
