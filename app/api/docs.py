"""OpenAPI at /api/openapi.json (quart-schema) and a docs page at /api/docs that needs no internet.

quart-schema's own UIs load their JavaScript from CDNs; ours is one self-contained page under
static/api-docs/ that reads the spec and lists every operation with its schemas.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from quart import Quart, Response, send_from_directory
from quart_schema import OpenAPIProvider, QuartSchema, hide
from werkzeug.routing import Rule

from app.api import blueprint
from app.api.answers import ERRORS_ATTRIBUTE
from app.api.schemas import ErrorsOut
from app.infra.settings import PROJECT_ROOT

DOCS_DIR = PROJECT_ROOT / "static" / "api-docs"
ERROR_SCHEMA = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorsOut"}}}
ERROR_MEANINGS = {
    401: "Unauthorized: the token is missing, malformed, expired or invalid",
    403: "Forbidden: the resource is someone else's (or the profile is the caller's own, to follow)",
    404: "Not found: the key names the resource (article, profile, comment)",
    409: "Conflict: the value is taken (username, email, slug)",
    422: "Unprocessable: a field is blank, too long, of the wrong type or not allowed",
}


class ApiOnlyProvider(OpenAPIProvider):
    """Document the /api routes only (the site and the lab are not part of the API), each with the
    error statuses the RealWorld spec lists for it, any other error as the default answer, and
    the deletes with their 204."""

    def generate_rules(self) -> Iterable[Rule]:
        for rule in super().generate_rules():
            if rule.rule.startswith("/api/"):
                yield rule

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        statuses = getattr(self._app.view_functions[rule.endpoint], ERRORS_ATTRIBUTE, ())
        for operations in paths.values():
            for method, operation in operations.items():
                # A copy (quart-schema shares one dict between a rule's methods), keyed by strings
                # as OpenAPI has them (quart-schema uses ints, which cannot sort beside "default").
                responses = {str(status): answer for status, answer in operation["responses"].items()}
                if not responses and method == "delete":  # the deletes answer 204, no body
                    responses["204"] = {"description": "Deleted; no content"}
                for status in sorted(set(statuses)):
                    responses[str(status)] = {"description": ERROR_MEANINGS[status],
                                              "content": ERROR_SCHEMA}
                responses["default"] = {"description": "Any other error (400, 405, 413, 415, 503), "
                                        "in the same shape", "content": ERROR_SCHEMA}
                operation["responses"] = responses
                if "requestBody" in operation:  # a JSON body is never optional here
                    operation["requestBody"]["required"] = True
                for parameter in operation.get("parameters", []):
                    if parameter.get("name") == "comment_id":  # digits (any other text: 404)
                        parameter["schema"] = {"type": "integer", "minimum": 1}
        return paths, {**components, "ErrorsOut": ErrorsOut.model_json_schema()}


def init_schema(app: Quart) -> QuartSchema:
    schema = QuartSchema(
        app,
        openapi_path="/api/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
        info={"title": "Conduit API", "version": "1.0.0",
              "description": "The RealWorld (Conduit) API. Authenticate with the header "
                             "`Authorization: Token <jwt>` (the token comes from register or login)."},
        security_schemes={"Token": {"type": "apiKey", "in_": "header", "name": "Authorization"}},
        openapi_provider_class=ApiOnlyProvider,
    )
    # quart-schema also wraps app.make_response to convert every view's return value with pydantic
    # (a new TypeAdapter for each dict: 13% of a /healthz request). Views here return plain dicts
    # and Responses, and only the OpenAPI document is wanted from it: the wrapper goes.
    del app.make_response
    return schema


@blueprint.get("/docs")
@hide
async def docs() -> Response:
    response = await send_from_directory(DOCS_DIR, "index.html")
    response.cache_control.no_cache = True
    return response
