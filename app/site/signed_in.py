"""Who is signed in to the site, and which views need it: ``load_signed_in_user`` (the site
blueprints' first before_request) reads the session cookie into ``g.user``, and ``login_required``
and ``admin_required`` send anonymous visitors to sign in and back. Views ask ``current_user`` or
``signed_in_user`` rather than reading ``g`` themselves, so the one lookup per request is the
hook's, and a wiring mistake (a view without its decorator) fails loudly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from quart import abort, g, redirect, request, session, url_for
from werkzeug.wrappers.response import Response as WerkzeugResponse

from app.domain import sessions
from app.domain.records import Account
from app.infra.database import get_db
from app.site.next_url import here, is_safe_next

P = ParamSpec("P")
R = TypeVar("R")


async def load_signed_in_user() -> None:
    """before_request of the site's blueprints: ``g.user`` (None when anonymous), with one query
    and only when the session cookie names a signed-in session."""
    g.user = None
    session_id = session.get("sid")
    if session_id is None:
        return
    g.user = await sessions.account_for_session(get_db(), session_id)
    if g.user is None:  # signed out (here or everywhere), or the account was deleted: forget it
        session.clear()


def current_user() -> Account | None:
    """``g.user`` as the site's hook loaded it (None: anonymous)."""
    user: Account | None = g.get("user")
    return user


def signed_in_user() -> Account:
    """The user of a view behind login_required."""
    user = current_user()
    if user is None:  # login_required ran first; this would be a wiring mistake
        abort(401)
    return user


def login_url(next_path: str | None = None) -> str:
    return url_for("auth.login", next=next_path if is_safe_next(next_path) else None)


def login_required(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | WerkzeugResponse]]:
    """Anonymous visitors go to sign-in, and come back afterwards (GET) or to the form's page."""

    @wraps(view)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | WerkzeugResponse:
        if current_user() is None:
            if request.method == "GET":
                back: str | None = here()
            else:  # a POST cannot be replayed by a redirect: come back to the page it came from
                back = (await request.form).get("next")
            return redirect(login_url(back))
        return await view(*args, **kwargs)

    return wrapped


def admin_required(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | WerkzeugResponse]]:
    """Signed-in administrators only: anonymous visitors sign in first, everyone else gets 403."""

    @login_required
    @wraps(view)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        user = current_user()
        if user is None or not user.is_admin:
            abort(403)
        return await view(*args, **kwargs)

    return wrapped
