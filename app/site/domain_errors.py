"""How the site shows the domain's refusals: ``add_errors`` puts a domain error's messages beside
the form fields they name, and ``domain_error_page`` (the site blueprints' error handler)
turns ``NotFound`` and ``Forbidden`` into the app's 404 and 403 pages. The domain raises the same
errors for the API and the site; this is the site's half of the translation, so views only catch
what they can show on their own form and let the rest propagate.
"""

from __future__ import annotations

from quart import current_app
from quart.typing import ResponseReturnValue
from quart_wtf import QuartForm
from werkzeug.exceptions import Forbidden as HTTPForbidden
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import NotFound as HTTPNotFound

from app.domain import DomainError, NotFound
from app.former_slugs import renamed


def add_errors(form: QuartForm, error: DomainError, renames: dict[str, str] | None = None) -> None:
    """Put a domain error's messages beside the matching form fields (else on the form itself)."""
    for key, messages in error.errors.items():
        name = (renames or {}).get(key, key)
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]
        else:
            form.form_errors.extend(f"{key} {message}" for message in messages)


async def domain_error_page(error: DomainError) -> ResponseReturnValue:
    """NotFound and Forbidden from the domain become the app's 404 and 403 pages (an article's
    former slug: a redirect to the same page or action at its current one)."""
    if isinstance(error, NotFound) and (moved := await renamed(error)) is not None:
        return moved
    http: HTTPException = HTTPNotFound() if isinstance(error, NotFound) else HTTPForbidden()
    answer = await current_app.handle_http_exception(http)
    return answer.get_response() if isinstance(answer, HTTPException) else answer
