"""OpenAPI at /api/openapi.json (quart-schema) and a docs page at /api/docs that needs no internet.

quart-schema's own UIs load their JavaScript from CDNs; ours is rendered here from the same
document (templates/api/docs.html): every operation with its parameters and schemas, readable with
JavaScript off, with a way back to the site.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from quart import Quart, Response, current_app, render_template
from quart_schema import OpenAPIProvider, QuartSchema, hide
from werkzeug.routing import Rule

from app.api import blueprint
from app.api.answers import ERRORS_ATTRIBUTE
from app.api.schemas import ErrorsOut

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


VERBS = ("get", "post", "put", "delete")
REF_DEPTH = 8


def _resolve(spec: dict[str, Any], schema: Any, depth: int = 0) -> Any:
    """The schema with its $refs inlined, so each reads on its own (bounded, should one cycle)."""
    if depth > REF_DEPTH or not isinstance(schema, dict | list):
        return schema
    if isinstance(schema, list):
        return [_resolve(spec, item, depth + 1) for item in schema]
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _resolve(spec, spec.get("components", {}).get("schemas", {}).get(name, {}), depth + 1)
    return {key: _resolve(spec, value, depth + 1) for key, value in schema.items() if key != "title"}


def _shown(spec: dict[str, Any], schema: Any) -> str:
    return json.dumps(_resolve(spec, schema), indent=2)


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation of the document, in path order, as the docs page lists them."""
    found = []
    for path in sorted(spec["paths"]):
        for verb in VERBS:
            op = spec["paths"][path].get(verb)
            if op is None:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            found.append({
                "verb": verb, "path": path, "secured": bool(op.get("security")),
                "text": op.get("description") or op.get("summary") or "",
                "parameters": [{"name": p["name"], "where": p["in"],
                                "type": json.dumps(_resolve(spec, p.get("schema", {})))}
                               for p in op.get("parameters", []) if p["in"] != "header"],
                "request": _shown(spec, body["schema"]) if body else None,
                "responses": [(status, _shown(spec, answer["content"]["application/json"]["schema"])
                               if "application/json" in answer.get("content", {}) else None)
                              for status, answer in op.get("responses", {}).items()],
            })
    return found


@blueprint.get("/docs")
@hide
async def docs() -> Response:
    spec = current_app.extensions["QUART_SCHEMA"].openapi_provider.schema()
    html = await render_template("api/docs.html", operations=operations(spec))
    response = Response(html, mimetype="text/html")
    response.cache_control.no_cache = True
    return response
