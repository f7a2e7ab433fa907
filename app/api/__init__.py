"""The RealWorld JSON API under /api: the JSON face of the domain layer the site also uses.

Wiring only: quart-schema (validation, OpenAPI), CORS, the JSON content type, auth and errors.
"""

from __future__ import annotations

from quart import Blueprint, Quart, Response, request
from quart_cors import cors

from app.api import articles, docs, users  # noqa: F401 (the modules register their routes)
from app.api.common import blueprint
from app.config import Settings
from app.errors import is_api_path

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
PREFLIGHT_MAX_AGE = 600  # seconds a browser may reuse a preflight answer


def init_app(app: Quart) -> None:
    settings: Settings = app.config["CONDUIT"]
    docs.init_schema(app)
    app.register_blueprint(blueprint)

    # CORS for every /api answer, errors from unknown routes included (those never reach the
    # blueprint's hooks), and for nothing else: the cookie-authenticated site stays same-origin.
    # quart-cors builds the hook; a scratch blueprint lends it, and the app runs it on /api paths.
    lender = cors(Blueprint("api_cors", __name__), allow_origin=settings.cors_origin_list,
                  allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
                  expose_headers=[], max_age=PREFLIGHT_MAX_AGE)
    apply_cors = lender.after_request_funcs[None][0]

    @app.after_request
    async def _api_response(response: Response) -> Response:
        if not is_api_path():
            return response
        if response.mimetype == "application/json":
            response.headers["Content-Type"] = JSON_CONTENT_TYPE
        else:
            if request.method == "OPTIONS" and response.status_code == 200 \
                    and response.content_length == 0:
                response.status_code = 204  # a preflight (or Allow) answer has no body to describe
            if response.status_code == 204:  # no content: no content type, no length (RFC 9110)
                response.headers.pop("Content-Type", None)
                response.headers.pop("Content-Length", None)
        result: Response = await apply_cors(response)
        if not result.headers.get("Access-Control-Expose-Headers"):
            result.headers.pop("Access-Control-Expose-Headers", None)
        return result
