"""What the API accepts from a request: the path and query checks every route gets, and the
``json_body`` and ``query`` decorators that hand a view its body or query string as a pydantic
model. Anything that does not fit is refused here, before the view runs, as a 4xx naming the field
the client sent (app/api/errors.py words it), so views only ever see well-formed input and nothing
malformed reaches the database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from quart import request
from quart_schema import document_querystring, document_request
from werkzeug.exceptions import BadRequest

from app.api.errors import ApiError, validation_errors

View = Callable[..., Awaitable[Any]]
M = TypeVar("M", bound=BaseModel)


def check_path_and_query() -> None:
    """Refuse a NUL in a path segment or query value (it would reach PostgreSQL, which refuses it:
    a 500) and a query parameter given twice; ``load_user`` runs it first on every request."""
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
