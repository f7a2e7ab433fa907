"""What every API view shares: the blueprint and its hooks, the error contract, token
authentication, JSON bodies and query strings.

Decorators stack in one order on every route, outermost first: the route, ``login_required`` (so
the auth check comes before any existence or body check), ``json_body``/``query``, then ``answers``
(which documents the answer and its errors in the OpenAPI document).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel, ValidationError
from quart import Blueprint, Response, current_app, g, jsonify, request
from quart_schema import document_querystring, document_request, document_response, security_scheme
from quart_schema.validation import QUART_SCHEMA_RESPONSE_ATTRIBUTE
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers.response import Response as WerkzeugResponse

from app.api.schemas import ErrorsOut
from app.api.tokens import TokenError, fingerprint, read_token
from app.domain import users
from app.domain.errors import Conflict, DomainError, Forbidden, InvalidCredentials, NotFound
from app.domain.records import Account
from app.former_slugs import renamed
from app.infra.database import get_db
from app.infra.settings import Settings

blueprint = Blueprint("api", __name__, url_prefix="/api")

P = ParamSpec("P")
R = TypeVar("R")
View = Callable[..., Awaitable[Any]]
TOKEN_SCHEMES = ("token", "bearer")  # the spec says Token; Bearer costs nothing to accept
ERRORS_ATTRIBUTE = "_conduit_error_statuses"  # read by app.api.docs
CORS_KEY = "conduit.api_cors"  # app.extensions: the CORS hook built for this app's origins


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
    if kind == "missing" or (kind == "string_type" and error.get("input") is None):
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


def validation_errors(error: ValidationError) -> dict[str, list[str]]:
    """pydantic's errors keyed by the field a client sent (``tagList``, ``email``, ``limit``)."""
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
async def _domain_error(error: DomainError) -> Response | WerkzeugResponse:
    if isinstance(error, NotFound) and (moved := await renamed(error)) is not None:
        return moved  # the article was renamed: the same route at its current slug
    return errors_response(domain_status(error), error.errors)


# Authentication -------------------------------------------------------------------------------


@blueprint.before_request
async def load_user() -> None:
    """``g.user`` from ``Authorization: Token <jwt>``, never from the session cookie.

    No header leaves ``g.user`` None (views that need a user refuse with 401 "token is missing");
    a header that does not hold a valid, unexpired token for an existing user is refused at once,
    even on routes where signing in is optional, but not on routes that never read it (``anyone``).
    The account is read with the request's one session, which the view then uses too.
    """
    g.user = None
    g.token = None
    _check_path_and_query()
    header = request.headers.get("Authorization")
    if header is None or request.method == "OPTIONS":  # CORS preflights carry no credentials
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "anyone", False):
        return
    g.user, g.token = await account_for(header)


async def account_for(header: str) -> tuple[Account, str]:
    """The account (and token) an ``Authorization: Token <jwt>`` header signs in; ApiError 401."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in TOKEN_SCHEMES or not token:
        raise ApiError(401, {"token": ["is malformed (expected the header Authorization: Token <jwt>)"]})
    try:
        user_id, epoch = read_token(settings(), token)
    except TokenError as error:
        raise ApiError(401, {"token": [error.reason]}) from None
    account = await users.get_account(get_db(), user_id)
    if account is None:
        raise ApiError(401, {"token": ["is invalid (the account no longer exists)"]})
    if account.token_epoch != epoch and account.kept_token != fingerprint(token):
        raise ApiError(401, {"token": ["has been revoked (the password changed, or the account "
                                       "signed out everywhere)"]})
    return account, token


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


def anyone(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A route open to anyone that never reads the token (a stale one is not refused there)."""
    view.anyone = True  # type: ignore[attr-defined]
    return view


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

    setattr(wrapper, ERRORS_ATTRIBUTE, (401, *getattr(view, ERRORS_ATTRIBUTE, ())))
    return security_scheme([{"Token": []}])(wrapper)


def viewer_id() -> int | None:
    account: Account | None = g.get("user")
    return account.id if account else None


@blueprint.after_request
async def finish_response(response: Response) -> Response:
    """after_request: CORS for every /api answer, no body description where there is no body,
    and (in testing) the answer checked against what its route documents. app/errors.py runs it
    too, for unknown /api routes, which never reach the blueprint."""
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


# Request bodies, query strings and answers ----------------------------------------------------


async def _read_json_body() -> Any:
    """Answer what pydantic cannot: an empty, non-JSON or unparsable body."""
    data = await request.get_data()  # over MAX_CONTENT_LENGTH: 413 from here
    if not data.strip():
        raise ApiError(422, {"body": ["can't be blank"]})
    if not request.is_json:
        raise ApiError(415, {"body": ["must be JSON (send Content-Type: application/json)"]})
    try:
        return await request.get_json()
    except (BadRequest, RecursionError, UnicodeDecodeError):
        raise ApiError(400, {"body": ["is not valid JSON"]}) from None


M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ApiError(422, validation_errors(error)) from None


def json_body(model: type[BaseModel]) -> Callable[[View], View]:
    """The view gets ``data=<model>``; what does not fit the model is a 422 naming the field."""

    def decorator(view: View) -> View:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await view(*args, data=_validated(model, await _read_json_body()), **kwargs)

        return document_request(model)(wrapper)

    return decorator


def query(model: type[BaseModel]) -> Callable[[View], View]:
    """The view gets ``query_args=<model>`` from the query string (422 naming a bad parameter)."""

    def decorator(view: View) -> View:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await view(*args, query_args=_validated(model, request.args.to_dict()), **kwargs)

        return document_querystring(model)(wrapper)

    return decorator


def answers(model: type[BaseModel] | None, status: int = 200, *errors: int) -> Callable[[View], View]:
    """Document the answer (``model`` at ``status``; None: no content) and the error statuses the
    route can give, in the OpenAPI document. Nothing runs per request in production: the test
    suite checks every answer against ``model`` (``check_answers``)."""

    def decorator(view: View) -> View:
        setattr(view, ERRORS_ATTRIBUTE, (*getattr(view, ERRORS_ATTRIBUTE, ()), *errors))
        return document_response(model, status)(view) if model else view

    return decorator


async def check_answers(response: Response) -> Response:
    """In testing, every API answer must fit the model its route documents for its status (and an
    error, the error shape): a mismatch fails the test with a 500."""
    view = current_app.view_functions.get(request.endpoint or "")
    documented = getattr(view, QUART_SCHEMA_RESPONSE_ATTRIBUTE, {})
    if response.status_code in documented:
        documented[response.status_code][0].model_validate_json(await response.get_data())
    elif response.status_code >= 400 and response.mimetype == "application/json":
        ErrorsOut.model_validate_json(await response.get_data())
    return response


def no_content() -> Response:
    """204: no body, so no content type and no length (finish_response drops them)."""
    return Response("", status=204)
