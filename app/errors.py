"""Error pages that answer in the client's language: JSON for /api and JSON clients, else HTML.

JSON errors have the RealWorld shape, ``{"errors": {"<subject>": ["<message>"]}}``, so a front end
that prints "subject message" reads "route not found" or "body is too large". No stack trace ever
reaches a client; 500s are logged with theirs.
"""

from __future__ import annotations

import json
from typing import Any

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from quart import Quart, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError


def is_api_path() -> bool:
    """The request is for the JSON API (which authenticates by token and answers only JSON)."""
    return request.path == "/api" or request.path.startswith("/api/")


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
    if status == 400 and description == BadRequest.description:
        return {"request": ["is malformed"]}
    if status >= 500:
        return {"server": ["hit an error; it is logged"]}
    return {"request": [description]}


async def error_response(status: int, name: str, description: str) -> Response:
    if wants_json():
        response = jsonify({"errors": json_errors(status, description)})
    else:
        html = await render_template("errors.html", status=status, name=name,
                                     description=description)
        response = Response(html, mimetype="text/html")
    response.status_code = status
    return response


def host_is_valid(host: str) -> bool:
    """What Werkzeug's URL map accepts: a name (port aside) that IDNA can encode."""
    try:
        host.partition(":")[0].encode("idna")
    except UnicodeError:
        return False
    return True


class RefuseBeforeQuart:
    """ASGI middleware for what Quart cannot answer itself (it would fail before any error handler
    runs, and the server would send an empty 500):

    - a Host header Werkzeug cannot bind to (``a..b``, a 64-letter label): 400;
    - a WebSocket handshake (the app serves none; Quart's error handlers expect a request): 403.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": ""})
            return
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not host_is_valid(host):
                api = scope["path"] == "/api" or scope["path"].startswith("/api/")
                body, kind = (json.dumps({"errors": {"host": ["is not a valid host name"]}}).encode(),
                              b"application/json; charset=utf-8") if api else \
                    (b"400 Bad Request: the Host header is not a valid host name.\n",
                     b"text/plain; charset=utf-8")
                await send({"type": "http.response.start", "status": 400, "headers": [
                    (b"content-type", kind), (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
        await self.app(scope, receive, send)


def init_app(app: Quart) -> None:
    app.asgi_app = RefuseBeforeQuart(app.asgi_app)  # type: ignore[method-assign]

    @app.errorhandler(HTTPException)
    async def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        response = await error_response(status, error.name, error.description or error.name)
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    async def _unhandled(error: Exception) -> Response:
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        internal = InternalServerError()
        return await error_response(500, internal.name, "The server hit an error; it is logged.")
