"""What the API answers: the ``answers`` decorator that documents a route's answer and error
statuses in the OpenAPI document, ``no_content``, and ``finish_response``, the blueprint's one
after_request, which gives every answer its final shape (CORS, no body headers on a 204) and, in
testing, checks it against what its route documents. The documentation and the check read the same
declarations, so the OpenAPI document cannot drift from what the views really send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from quart import Response, current_app, request
from quart_schema import document_response
from quart_schema.validation import QUART_SCHEMA_RESPONSE_ATTRIBUTE

from app.api.cors import add_cors
from app.api.schemas import ErrorsOut

View = Callable[..., Awaitable[Any]]
ERRORS_ATTRIBUTE = "_conduit_error_statuses"  # read by app.api.docs


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


async def finish_response(response: Response) -> Response:
    """after_request: CORS for every /api answer, no body description where there is no body,
    and (in testing) the answer checked against what its route documents. app/errors.py runs it
    too, for unknown /api routes, which never reach the blueprint."""
    if request.method == "OPTIONS" and response.status_code == 200 and response.content_length == 0:
        response.status_code = 204  # a preflight (or Allow) answer has no body to describe
    if response.status_code == 204:  # no content: no content type, no length (RFC 9110)
        response.headers.pop("Content-Type", None)
        response.headers.pop("Content-Length", None)
    response = await add_cors(response)
    if current_app.testing:
        await check_answers(response)
    return response
