"""What every API view shares: the blueprint, the error contract, authentication, JSON bodies.

Decorators stack in one order on every route, outermost first: the route, ``login_required`` (so the
auth check comes before any existence or body check), ``json_body``/``validate_querystring``, then
``validate_response`` (which also documents the answer in the OpenAPI spec).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel, ValidationError
from quart import Blueprint, Response, current_app, g, jsonify, request
from quart_schema import RequestSchemaValidationError, security_scheme, validate_request
from werkzeug.exceptions import BadRequest

from app.api.tokens import TokenError, read_token
from app.config import Settings
from app.db import get_database
from app.domain import users
from app.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidCredentials,
    NotFound,
)
from app.domain.views import Account

blueprint = Blueprint("api", __name__, url_prefix="/api")

P = ParamSpec("P")
R = TypeVar("R")
TOKEN_SCHEMES = ("token", "bearer")  # the spec says Token; Bearer costs nothing to accept


class ApiError(Exception):
    """An answer in the RealWorld error shape: ``{"errors": {field: [message, ...]}}``."""

    def __init__(self, status: int, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.status = status
        self.errors = errors


def settings() -> Settings:
    value: Settings = current_app.config["CONDUIT"]
    return value


def errors_response(status: int, errors: dict[str, list[str]]) -> Response:
    response = jsonify({"errors": errors})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = "Token"
    return response


def domain_status(error: DomainError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, InvalidCredentials):
        return 401
    return 422  # Invalid, and any other refusal of well-formed input


def _message(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "can't be blank"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be an object"
    if kind == "string_type":
        return "must be a string"
    if kind == "list_type":
        return "must be a list"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number"
    context = error.get("ctx") or {}
    if kind == "greater_than_equal":
        return f"must be at least {context.get('ge')}"
    if kind == "less_than_equal":
        return f"must be at most {context.get('le')}"
    message = str(error.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def validation_errors(error: Exception) -> dict[str, list[str]]:
    """pydantic's errors keyed by the field a client sent (``tagList``, ``email``, ``limit``)."""
    if not isinstance(error, ValidationError):
        return {"body": ["is invalid"]}
    errors: dict[str, list[str]] = {}
    for item in error.errors():
        names = [part for part in item["loc"] if isinstance(part, str)]
        field = names[-1] if names else "body"
        errors.setdefault(field, [])
        message = _message(item)
        if message not in errors[field]:
            errors[field].append(message)
    return errors


# Errors raised by API views and hooks; unknown routes, 405, 413 and 500 are app/errors.py's.


@blueprint.errorhandler(ApiError)
async def _api_error(error: ApiError) -> Response:
    return errors_response(error.status, error.errors)


@blueprint.errorhandler(DomainError)
async def _domain_error(error: DomainError) -> Response:
    return errors_response(domain_status(error), error.errors)


@blueprint.errorhandler(RequestSchemaValidationError)
async def _schema_error(error: RequestSchemaValidationError) -> Response:
    return errors_response(422, validation_errors(error.validation_error))


# Authentication -------------------------------------------------------------------------------


@blueprint.before_request
async def load_user() -> None:
    """before_request: ``g.user`` from ``Authorization: Token <jwt>``, never from the session cookie.

    No header leaves ``g.user`` None (views that need a user refuse with 401 "token is missing");
    a header that does not hold a valid, unexpired token for an existing user is refused at once,
    even on routes where signing in is optional.
    """
    g.user = None  # whatever the site's hook read from a cookie does not count here
    g.token = None
    if request.method == "OPTIONS":  # CORS preflights carry no credentials
        return
    _check_path_and_query()
    header = request.headers.get("Authorization")
    if header is None:
        return
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in TOKEN_SCHEMES or not token:
        raise ApiError(401, {"token": ["is malformed (expected the header Authorization: Token <jwt>)"]})
    try:
        user_id = read_token(settings(), token)
    except TokenError as error:
        raise ApiError(401, {"token": [error.reason]}) from None
    # A short read-only session of its own: a writer's session opened here would hold SQLite's
    # write lock (BEGIN IMMEDIATE) through the rest of the request, password hashing included.
    maker = get_database().read_sessionmaker
    assert maker is not None
    async with maker() as session:
        account = await users.get_account(session, user_id)
    if account is None:
        raise ApiError(401, {"token": ["is invalid (the account no longer exists)"]})
    g.user = account
    g.token = token


def _check_path_and_query() -> None:
    # A NUL in a path segment or query value would reach PostgreSQL (which refuses it): a 500.
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and "\x00" in value:
            raise ApiError(404, {"route": ["not found"]})
    seen: set[str] = set()
    for name, value in request.args.items(multi=True):
        if "\x00" in value or "\x00" in name:
            raise ApiError(422, {name.replace("\x00", "") or "query": ["is invalid"]})
        if name in seen:  # ?tag=a&tag=b: say so, rather than "must be a string"
            raise ApiError(422, {name: ["must be given once"]})
        seen.add(name)


def current_user() -> Account:
    """The signed-in account, inside a ``login_required`` view."""
    account: Account = g.user
    return account


def login_required(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if g.get("user") is None:
            raise ApiError(401, {"token": ["is missing"]})
        return await view(*args, **kwargs)

    return security_scheme([{"Token": []}])(wrapper)


def viewer_id() -> int | None:
    account: Account | None = g.get("user")
    return account.id if account else None


# Request bodies -------------------------------------------------------------------------------


async def _read_json_body() -> None:
    """Answer what pydantic cannot: an empty, non-JSON or unparsable body. Parsed JSON is cached
    on the request, so quart-schema's ``validate_request`` reads it again for free."""
    data = await request.get_data()  # over MAX_CONTENT_LENGTH: 413 from here
    if not data.strip():
        raise ApiError(422, {"body": ["can't be blank"]})
    if not request.is_json:
        raise ApiError(415, {"body": ["must be JSON (send Content-Type: application/json)"]})
    try:
        await request.get_json()
    except (BadRequest, RecursionError, UnicodeDecodeError):
        raise ApiError(400, {"body": ["is not valid JSON"]}) from None


def json_body(model: type[BaseModel]) -> Callable[[Callable[..., Awaitable[Any]]],
                                                  Callable[..., Awaitable[Any]]]:
    """quart-schema's ``validate_request`` (the view gets ``data=<model>``), with clear errors."""

    def decorator(view: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        validated = validate_request(model)(view)

        @wraps(validated)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            await _read_json_body()
            return await validated(*args, **kwargs)

        return wrapper

    return decorator
