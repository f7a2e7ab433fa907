"""The RealWorld JSON API under /api."""

from __future__ import annotations

from quart import Blueprint, Quart

blueprint = Blueprint("api", __name__, url_prefix="/api")


def init_app(app: Quart) -> None:
    app.register_blueprint(blueprint)
