"""The server-rendered site: blueprints for pages, auth and admin."""

from __future__ import annotations

from quart import Quart

from app.site.views import blueprint


def init_app(app: Quart) -> None:
    app.register_blueprint(blueprint)
