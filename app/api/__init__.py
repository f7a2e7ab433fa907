"""The RealWorld JSON API under /api: the JSON face of the domain layer the site also uses.

The ``api`` blueprint and its hooks (token auth, CORS and the answer's final shape) are in
``common``; nothing of them runs for the site, the lab or the health probes.
"""

from __future__ import annotations

from quart import Blueprint, Quart
from quart_cors import cors

from app.api.common import CORS_KEY, blueprint, finish_response
from app.infra.rate_limits import limit_writes
from app.infra.settings import Settings

__all__ = ["finish_response", "init_app"]
PREFLIGHT_MAX_AGE = 600  # seconds a browser may reuse a preflight answer
blueprint.before_request(limit_writes)  # after load_user: a signed-in user's changes are counted


def init_app(app: Quart) -> None:
    from app.api import articles, docs, live, users  # noqa: F401 (the modules register their routes)

    settings: Settings = app.config["CONDUIT"]
    docs.init_schema(app)
    # quart-cors builds the hook for this app's origins; a scratch blueprint lends it, and
    # finish_response runs it for the blueprint's answers and for app/errors.py's.
    lender = cors(Blueprint("api_cors", __name__), allow_origin=settings.cors_origin_list,
                  allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
                  expose_headers=[], max_age=PREFLIGHT_MAX_AGE)
    app.extensions[CORS_KEY] = lender.after_request_funcs[None][0]
    app.register_blueprint(blueprint)
