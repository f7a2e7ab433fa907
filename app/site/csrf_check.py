"""CSRF protection for the site: the quart-wtf ``csrf`` extension and ``check_csrf``, the site
blueprints' before_request that refuses a POST from another site (its Origin or Referer) or without
the session's token. The site signs in by cookie, which a browser sends wherever a form comes from,
so every state-changing request must prove it came from one of our pages; the JSON API
authenticates by token and never reads the cookie, so it is not covered.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import abort, request
from quart_wtf import CSRFProtect

csrf = CSRFProtect()


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
