"""The API's error contract: ``ApiError``, the RealWorld error shape (``{"errors": {field:
[message, ...]}}``), the HTTP status each domain refusal gets, pydantic's errors in the client's
own field names, and the blueprint's two error handlers. Every refusal an API view or hook gives
goes through here, so a client sees one shape and one wording whatever refused it; unknown
routes, 405, 413 and 500 are app/errors.py's (they never reach the blueprint).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from quart import Response, jsonify
from werkzeug.wrappers.response import Response as WerkzeugResponse

from app.domain.errors import Conflict, DomainError, Forbidden, InvalidCredentials, NotFound
from app.former_slugs import renamed


class ApiError(Exception):
    """An answer in the RealWorld error shape: ``{"errors": {field: [message, ...]}}``."""

    def __init__(self, status: int, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.status = status
        self.errors = errors


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


# The blueprint's error handlers (registered in app/api/__init__.py) --------------------------


async def api_error_answer(error: ApiError) -> Response:
    return errors_response(error.status, error.errors)


async def domain_error_answer(error: DomainError) -> Response | WerkzeugResponse:
    if isinstance(error, NotFound) and (moved := await renamed(error)) is not None:
        return moved  # the article was renamed: the same route at its current slug
    return errors_response(domain_status(error), error.errors)
