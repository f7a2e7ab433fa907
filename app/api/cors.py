"""CORS for the API: the hook quart-cors builds for this app's allowed origins, made once per app
by ``install_cors`` and run on every /api answer by ``add_cors``. The hook is kept in
``app.extensions`` rather than on the blueprint because finish_response must run it for
app/errors.py's answers to unknown /api routes too, which never reach the blueprint's hooks.
"""

from __future__ import annotations

from collections.abc import Sequence

from quart import Blueprint, Quart, Response, current_app
from quart_cors import cors

CORS_KEY = "conduit.api_cors"  # app.extensions: the CORS hook built for this app's origins
PREFLIGHT_MAX_AGE = 600  # seconds a browser may reuse a preflight answer


def install_cors(app: Quart, origins: Sequence[str]) -> None:
    """Build the CORS hook for ``origins``: quart-cors makes it, and a scratch blueprint lends it."""
    lender = cors(Blueprint("api_cors", __name__), allow_origin=origins,
                  allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
                  expose_headers=[], max_age=PREFLIGHT_MAX_AGE)
    app.extensions[CORS_KEY] = lender.after_request_funcs[None][0]


async def add_cors(response: Response) -> Response:
    """The CORS headers for this answer's request, without an empty Access-Control-Expose-Headers."""
    response = await current_app.extensions[CORS_KEY](response)
    if not response.headers.get("Access-Control-Expose-Headers"):
        response.headers.pop("Access-Control-Expose-Headers", None)
    return response
