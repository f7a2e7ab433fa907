"""The server-rendered site: the ``site``, ``auth`` and ``admin`` blueprints, CSRF, Jinja filters.

``init_app`` is called by the application factory, Flask-extension style.
"""

from __future__ import annotations

from quart import Quart

from app.site import admin, articles, auth, pages, rendering
from app.site.common import DEFAULT_PAGE_SIZE, csrf

__all__ = ["articles", "init_app"]  # articles: imported for its routes on the site blueprint


def init_app(app: Quart) -> None:
    app.config.setdefault("SITE_PAGE_SIZE", DEFAULT_PAGE_SIZE)
    # CSRF is checked by the site's own blueprints (common.check_csrf), not app-wide: the JSON API
    # authenticates by token and never reads the cookie, so a CSRF token means nothing there.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    # The token is bound to the session (a random secret in it), so it lives as long as the
    # session; sign-in and sign-out replace the session. A timed token would turn a page left
    # open for an hour into a 400 on the next click.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)  # also gives templates csrf_token()
    rendering.init_app(app)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(admin.blueprint)
