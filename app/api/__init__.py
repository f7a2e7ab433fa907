"""The RealWorld JSON API under /api: the JSON face of the domain layer the site also uses.

The ``api`` blueprint (``common.blueprint``) owns its hooks: token auth (``common.load_user``), and
CORS with the answer's final shape (``finish_response``). Nothing of it runs for the site, the lab or
the health probes. Unknown /api routes never reach a blueprint: app/errors.py finishes those
answers with ``finish_response`` too.
"""

from __future__ import annotations

from quart import Blueprint, Quart, Response, current_app, request
from quart_cors import cors

from app.api.common import blueprint, check_answers
from app.config import Settings

CORS_KEY = "conduit.api_cors"
PREFLIGHT_MAX_AGE = 600  # seconds a browser may reuse a preflight answer


@blueprint.after_request
async def finish_response(response: Response) -> Response:
    """CORS for every /api answer, and no body description where there is no body."""
    if request.method == "OPTIONS" and response.status_code == 200 and response.content_length == 0:
        response.status_code = 204  # a preflight (or Allow) answer has no body to describe
    if response.status_code == 204:  # no content: no content type, no length (RFC 9110)
        response.headers.pop("Content-Type", None)
        response.headers.pop("Content-Length", None)
    response = await current_app.extensions[CORS_KEY](response)
    if not response.headers.get("Access-Control-Expose-Headers"):
        response.headers.pop("Access-Control-Expose-Headers", None)
    if current_app.testing:
        await check_answers(response)
    return response


def init_app(app: Quart) -> None:
    from app.api import articles, docs, users  # noqa: F401 (the modules register their routes)

    settings: Settings = app.config["CONDUIT"]
    docs.init_schema(app)
    # quart-cors builds the hook for this app's origins; a scratch blueprint lends it, and
    # finish_response runs it for the blueprint's answers and for app/errors.py's.
    lender = cors(Blueprint("api_cors", __name__), allow_origin=settings.cors_origin_list,
                  allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
                  expose_headers=[], max_age=PREFLIGHT_MAX_AGE)
    app.extensions[CORS_KEY] = lender.after_request_funcs[None][0]
    app.register_blueprint(blueprint)
