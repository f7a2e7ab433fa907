"""Error pages that answer in the client's language: JSON for /api and JSON clients, else HTML.

JSON errors have the RealWorld shape, ``{"errors": {"<subject>": ["<message>"]}}``, so a front end
that prints "subject message" reads "route not found" or "body is too large". No stack trace ever
reaches a client; 500s are logged with theirs.
"""

from __future__ import annotations

from quart import Quart, Response, current_app, g, jsonify, render_template, request
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from app.infra.outages import busy, unavailable
from app.infra.rate_limit_rules import RateLimited
from app.observe import metrics
from app.serving.admission import BUSY_MESSAGE
from app.serving.guard import is_api


def is_api_path() -> bool:
    """The request is for the JSON API (which authenticates by token and answers only JSON)."""
    return is_api(request.path)


def wants_json() -> bool:
    if is_api_path():
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def json_errors(status: int, description: str) -> dict[str, list[str]]:
    if status == 404:
        return {"route": ["not found"]}
    if status == 405:
        return {"method": [f"{request.method} is not allowed here"]}
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return {"body": [f"is too large (the limit is {limit} bytes)" if limit else "is too large"]}
    if status == 408:
        limit = current_app.config.get("BODY_TIMEOUT")
        return {"body": [f"did not arrive within {limit} seconds"]}
    subject, _, rest = description.partition(" ")
    if status == 503 and rest.startswith(("is ", "took ")):  # "database is unavailable ..."
        return {subject: [rest]}
    if status == 429:
        return {"limit": [f"reached: {description}"]}
    if status == 400 and description == BadRequest.description:
        return {"request": ["is malformed"]}
    if status >= 500:
        return {"server": ["hit an error; it is logged"]}
    return {"request": [description]}


async def error_response(status: int, name: str, description: str, detail: bool = True) -> Response:
    if wants_json():
        response = jsonify({"errors": json_errors(status, description)})
        response.status_code = status
        if is_api_path():  # an unknown /api route never reached the API blueprint's hooks
            from app.api import finish_response

            response = await finish_response(response)
        return response
    if "user" not in g and status < 500 and request.endpoint != "static":
        # An unknown page: the site's navigation still knows who you are.
        from app.site.signed_in import load_signed_in_user

        await load_signed_in_user()
    html = await render_template("errors.html", status=status, name=name,
                                 description=description if detail else None)
    return Response(html, status=status, mimetype="text/html")


def init_app(app: Quart) -> None:

    @app.errorhandler(HTTPException)
    async def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        # The stock text ("The requested URL was not found on the server...") repeats the page's
        # own hint; only a description of this case's own is shown.
        stock = error.description == type(error).description
        response = await error_response(status, error.name, error.description or error.name,
                                        detail=not stock)
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response

    @app.errorhandler(RateLimited)
    async def _rate_limited(error: RateLimited) -> Response:
        metrics.RATE_LIMITED.labels(error.name).inc()
        response = await error_response(429, "Too Many Requests", error.message)
        response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(Exception)
    async def _unhandled(error: Exception) -> Response:
        if busy(error):
            app.logger.warning("busy on %s %s: %s", request.method, request.path,
                               type(error).__name__)
            response = await error_response(503, "Service Unavailable", f"server {BUSY_MESSAGE}")
            response.headers["Retry-After"] = "1"
            return response
        subject = unavailable(error)
        if subject is not None:
            # Not this code's fault, and no traceback helps: one line, and the client comes back.
            app.logger.warning("%s unavailable on %s %s: %s: %s", subject, request.method,
                               request.path, type(error).__name__,
                               str(error).split("\n")[0][:200] or "no answer in time")
            response = await error_response(
                503, "Service Unavailable",
                f"{subject} is unavailable just now; try again in a few seconds")
            # About one database timeout: what a frozen database took to be noticed.
            response.headers["Retry-After"] = str(app.config["CONDUIT"].db_timeout)
            return response
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        internal = InternalServerError()
        return await error_response(500, internal.name, "The server hit an error; it is logged.")
