"""The contexts lab under /contexts."""

from __future__ import annotations

from quart import Blueprint, Quart

blueprint = Blueprint("contexts", __name__, url_prefix="/contexts")


def init_app(app: Quart) -> None:
    app.register_blueprint(blueprint)
