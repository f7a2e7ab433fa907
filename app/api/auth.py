"""Token authentication for the API: ``load_user`` (the blueprint's first before_request) reads
``Authorization: Token <jwt>`` into ``g.user``, and the decorators and helpers views use say who
may call a route and who is calling. The API never reads the session cookie, so this is its only
way in; making and reading the JWTs themselves is app/api/tokens.py's, and this module adds what
needs the request: the header, the account behind it, and the 401s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from quart import current_app, g, request
from quart_schema import security_scheme

from app.api.answers import ERRORS_ATTRIBUTE
from app.api.errors import ApiError
from app.api.tokens import TokenError, fingerprint, read_token
from app.api.validation import check_path_and_query
from app.domain import users
from app.domain.records import Account
from app.infra.database import get_db
from app.infra.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")
TOKEN_SCHEMES = ("token", "bearer")  # the spec says Token; Bearer costs nothing to accept


def settings() -> Settings:
    """The app's settings (their secret key signs and checks the tokens)."""
    value: Settings = current_app.config["CONDUIT"]
    return value


async def load_user() -> None:
    """``g.user`` from ``Authorization: Token <jwt>``, never from the session cookie.

    No header leaves ``g.user`` None (views that need a user refuse with 401 "token is missing");
    a header that does not hold a valid, unexpired token for an existing user is refused at once,
    even on routes where signing in is optional, but not on routes that never read it (``anyone``).
    The account is read with the request's one session, which the view then uses too.
    """
    g.user = None
    g.token = None
    check_path_and_query()
    header = request.headers.get("Authorization")
    if header is None or request.method == "OPTIONS":  # CORS preflights carry no credentials
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "anyone", False):
        return
    g.user, g.token = await account_for(header)


async def account_for(header: str) -> tuple[Account, str]:
    """The account (and token) an ``Authorization: Token <jwt>`` header signs in; ApiError 401."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in TOKEN_SCHEMES or not token:
        raise ApiError(401, {"token": ["is malformed (expected the header Authorization: Token <jwt>)"]})
    try:
        user_id, epoch = read_token(settings(), token)
    except TokenError as error:
        raise ApiError(401, {"token": [error.reason]}) from None
    account = await users.get_account(get_db(), user_id)
    if account is None:
        raise ApiError(401, {"token": ["is invalid (the account no longer exists)"]})
    if account.token_epoch != epoch and account.kept_token != fingerprint(token):
        raise ApiError(401, {"token": ["has been revoked (the password changed, or the account "
                                       "signed out everywhere)"]})
    return account, token


def anyone(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A route open to anyone that never reads the token (a stale one is not refused there)."""
    view.anyone = True  # type: ignore[attr-defined]
    return view


def current_user() -> Account:
    """The signed-in account, inside a ``login_required`` view."""
    account: Account = g.user
    return account


def login_required(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if g.get("user") is None:
            raise ApiError(401, {"token": ["is missing"]})
        return await view(*args, **kwargs)

    setattr(wrapper, ERRORS_ATTRIBUTE, (401, *getattr(view, ERRORS_ATTRIBUTE, ())))
    return security_scheme([{"Token": []}])(wrapper)


def viewer_id() -> int | None:
    account: Account | None = g.get("user")
    return account.id if account else None
