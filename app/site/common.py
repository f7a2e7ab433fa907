"""What the site's blueprints share: the signed-in user, login_required / admin_required, the safe
``next`` redirect, paging, CSRF on every POST, and turning domain errors into HTTP answers."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from itsdangerous import URLSafeTimedSerializer
from quart import abort, current_app, g, redirect, render_template, request, session, url_for
from quart.sessions import SecureCookieSessionInterface
from quart.typing import ResponseReturnValue
from quart_wtf import CSRFProtect, QuartForm
from werkzeug.exceptions import Forbidden as HTTPForbidden
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.wrappers.response import Response as WerkzeugResponse

from app.domain import DomainError, Invalid, NotFound, sessions
from app.domain.cursors import parse_cursor
from app.domain.records import Account
from app.former_slugs import renamed
from app.infra.database import get_db

P = ParamSpec("P")
R = TypeVar("R")
View = Callable[P, Awaitable[R]]

csrf = CSRFProtect()


class SessionInterface(SecureCookieSessionInterface):
    """Quart's signed-cookie sessions, with the signer made once per secret rather than once per
    request (opening the session runs for every request, the health probe's included)."""

    def __init__(self) -> None:
        self._signers: dict[tuple[str, ...], URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Any) -> URLSafeTimedSerializer | None:
        keys = (*(app.config.get("SECRET_KEY_FALLBACKS") or ()), app.secret_key)
        if keys not in self._signers:
            self._signers[keys] = super().get_signing_serializer(app)
        return self._signers[keys]
DEFAULT_PAGE_SIZE = 10
MAX_PAGE = 100_000


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


def is_safe_next(target: str | None) -> bool:
    """Only a path on this site: no scheme, no host, not protocol-relative (//evil or /\\evil)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    if any(ch in target for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str) -> str:
    return target if target is not None and is_safe_next(target) else default


async def form_next(default: str) -> str:
    """Where a button's form says to go back to (its hidden ``next``), if that stays on this site."""
    return safe_next((await request.form).get("next"), default)


def here() -> str:
    """The current path with its query string: the ``next`` that brings a user back here."""
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


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


def same_origin() -> bool:
    """The browser's Origin (or, without one, Referer) names this site, or is absent (a client
    that sends neither still needs the token)."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source is None:
        return True
    return urlsplit(source).netloc.lower() == request.host.lower()


async def check_csrf() -> None:
    """Every POST to the site's blueprints comes from this site (its Origin or Referer, when sent)
    and carries the session's CSRF token: 403 and 400 otherwise.

    Registered as each site blueprint's before_request, so sign-out, follow, favorite and delete
    buttons are covered as well as the forms; the JSON API (token auth, no cookies) is not.
    """
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        if not same_origin():
            abort(403, "This form was sent from another site, so it was refused.")
        await csrf.protect()


async def domain_error_page(error: DomainError) -> ResponseReturnValue:
    """NotFound and Forbidden from the domain become the app's 404 and 403 pages (an article's
    former slug: a redirect to the same page or action at its current one)."""
    if isinstance(error, NotFound) and (moved := await renamed(error)) is not None:
        return moved
    http: HTTPException = HTTPNotFound() if isinstance(error, NotFound) else HTTPForbidden()
    answer = await current_app.handle_http_exception(http)
    return answer.get_response() if isinstance(answer, HTTPException) else answer


async def unconfirmed(question: str, cancel: str, *, verb: str = "Delete",
                      detail: str = "This cannot be undone.") -> str | None:
    """A destructive POST goes ahead only when its form says ``confirm=yes``: the page's <dialog>
    adds it (static/site.js); without JavaScript this returns the page that asks, whose own
    button sends it. None: confirmed, go ahead."""
    form = await request.form
    if form.get("confirm") == "yes":
        return None
    back = form.get("next")
    return await render_template("confirm.html", question=question, detail=detail, verb=verb,
                                 action=request.path, next=back if is_safe_next(back) else None,
                                 cancel=safe_next(back, cancel))


def add_errors(form: QuartForm, error: DomainError, renames: dict[str, str] | None = None) -> None:
    """Put a domain error's messages beside the matching form fields (else on the form itself)."""
    for key, messages in error.errors.items():
        name = (renames or {}).get(key, key)
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]
        else:
            form.form_errors.extend(f"{key} {message}" for message in messages)


@dataclass(frozen=True)
class Position:
    """Where in a list of articles a page starts: older than ``before``, newer than ``after``
    (cursors from the page's own links), or the first page. ``?page=N`` from older links still
    works, as an offset."""

    before: str | None
    after: str | None
    offset: int
    size: int

    @property
    def first(self) -> bool:
        return not (self.before or self.after or self.offset)

    def args(self) -> dict[str, Any]:
        return {"limit": self.size, "offset": self.offset, "before": self.before, "after": self.after}


def requested_position() -> Position:
    """The position ``?before=``, ``?after=`` or ``?page=`` asks for (400 for a made-up cursor)."""
    cursors = {}
    for side in ("before", "after"):
        text = request.args.get(side) or None
        if text is not None:
            try:
                parse_cursor(side, text)
            except Invalid:
                abort(400, "That page link is not valid: go back to the list and follow its links.")
        cursors[side] = text
    if cursors["before"] and cursors["after"]:
        abort(400, "That page link is not valid: it asks for older and newer at once.")
    pager = requested_page()
    offset = 0 if cursors.get("before") or cursors.get("after") else pager.offset
    return Position(before=cursors.get("before"), after=cursors.get("after"), offset=offset,
                    size=pager.size)


def requested_page(size: int | None = None) -> Pager:
    """The page ``?page=N`` asks for, at ``size`` (default: the site's page size); ``counted``
    adds the total later."""
    page = request.args.get("page", 1, type=int) or 1
    page = min(max(page, 1), MAX_PAGE)  # a huge page is the last page, not an integer overflow
    size = size or current_app.config.get("SITE_PAGE_SIZE", DEFAULT_PAGE_SIZE)
    return Pager(page=page, size=size, total=0)


@dataclass(frozen=True)
class Pager:
    """Page links for a list of ``total`` items shown ``size`` at a time."""

    page: int
    size: int
    total: int

    def counted(self, total: int) -> Pager:
        return replace(self, total=total)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def pages(self) -> int:
        return max(math.ceil(self.total / self.size), 1)

    def window(self, around: int = 2) -> list[int | None]:
        """1 … 4 5 [6] 7 8 … 50: the first, the last and a few around the current page."""
        shown = sorted({1, self.pages, *range(self.page - around, self.page + around + 1)})
        result: list[int | None] = []
        last = 0
        for number in shown:
            if not 1 <= number <= self.pages:
                continue
            if last and number - last > 1:
                result.append(None)  # a gap, drawn as "…"
            result.append(number)
            last = number
        return result

