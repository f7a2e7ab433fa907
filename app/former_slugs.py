"""An article's former slug works on every route of the site and the API: a read answers 301 to
the same route at the current slug, anything else 308, which keeps the method and the body (a
client holding the old slug favorites, comments, edits or deletes the article it meant)."""

from __future__ import annotations

from quart import redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from app.domain import renames
from app.domain.errors import NotFound
from app.infra.database import get_db


async def renamed(error: NotFound) -> WerkzeugResponse | None:
    """The redirect for a request whose article was not found at its (former) slug, or None."""
    args = request.view_args or {}
    slug = args.get("slug")
    if "article" not in error.errors or request.url_rule is None or not isinstance(slug, str):
        return None
    moved = await renames.current_slug(get_db(), slug)
    if moved is None or moved == slug:
        return None
    target = url_for(str(request.url_rule.endpoint), **{**args, "slug": moved})
    if request.query_string:
        target += "?" + request.query_string.decode("latin-1")
    return redirect(target, 301 if request.method in ("GET", "HEAD") else 308)
