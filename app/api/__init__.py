"""The RealWorld JSON API under /api: the JSON face of the domain layer the site also uses.

The ``api`` blueprint is defined here with its hooks, in the order they run: token auth
(``load_user``, app/api/auth.py), the write limits, and ``finish_response`` (CORS and the answer's
final shape, app/api/answers.py); the error contract is app/api/errors.py's. Nothing of them runs
for the site, the lab or the health probes.

Decorators stack in one order on every route, outermost first: the route, ``login_required`` (so
the auth check comes before any existence or body check), ``json_body``/``query``
(app/api/validation.py), then ``answers`` (which documents the answer and its errors in the
OpenAPI document).
"""

from __future__ import annotations

from quart import Blueprint, Quart

from app.api.answers import finish_response
from app.api.auth import load_user
from app.api.cors import install_cors
from app.api.errors import ApiError, api_error_answer, domain_error_answer
from app.domain.errors import DomainError
from app.infra.rate_limits import limit_writes
from app.infra.settings import Settings

__all__ = ["blueprint", "finish_response", "init_app"]

blueprint = Blueprint("api", __name__, url_prefix="/api")
blueprint.register_error_handler(ApiError, api_error_answer)
blueprint.register_error_handler(DomainError, domain_error_answer)
blueprint.before_request(load_user)
blueprint.before_request(limit_writes)  # after load_user: a signed-in user's changes are counted
blueprint.after_request(finish_response)


def init_app(app: Quart) -> None:
    from app.api import articles, docs, live, users  # noqa: F401 (the modules register their routes)

    settings: Settings = app.config["CONDUIT"]
    docs.init_schema(app)
    # finish_response runs the CORS hook for the blueprint's answers and for app/errors.py's.
    install_cors(app, settings.cors_origin_list)
    app.register_blueprint(blueprint)
