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

from app.api.common import blueprint
from app.api.schemas import ErrorsOut
from app.config import PROJECT_ROOT

DOCS_DIR = PROJECT_ROOT / "static" / "api-docs"


ERROR_RESPONSE = {
    "description": "An error (400, 401, 403, 404, 405, 409, 413, 415, 422), in the RealWorld shape",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorsOut"}}},
}


class ApiOnlyProvider(OpenAPIProvider):
    """Document the /api routes only (the site and the lab are not part of the API), each with its
    error answer, and the deletes with their 204."""

    def generate_rules(self) -> Iterable[Rule]:
        for rule in super().generate_rules():
            if rule.rule.startswith("/api/"):
                yield rule

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        for operations in paths.values():
            for method, operation in operations.items():
                # A copy (quart-schema shares one dict between a rule's methods), keyed by strings
                # as OpenAPI has them (quart-schema uses ints, which cannot sort beside "default").
                responses = {str(status): answer for status, answer in operation["responses"].items()}
                if not responses and method == "delete":  # the deletes answer 204, no body
                    responses["204"] = {"description": "Deleted; no content"}
                responses["default"] = ERROR_RESPONSE
                operation["responses"] = responses
        return paths, {**components, "ErrorsOut": ErrorsOut.model_json_schema()}


def init_schema(app: Quart) -> QuartSchema:
    return QuartSchema(
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


@blueprint.get("/docs")
@hide
async def docs() -> Response:
    response = await send_from_directory(DOCS_DIR, "index.html")
    response.cache_control.no_cache = True
    return response
