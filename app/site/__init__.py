"""The server-rendered site: the ``site``, ``auth`` and ``admin`` blueprints, defined here with their
hooks (the signed-in user from the session cookie, CSRF on every POST), and the Jinja filters.

Only these blueprints load a user from the cookie or check CSRF: the JSON API authenticates by token,
and the health probes and static files need neither. ``init_app`` is called by the application
factory, Flask-extension style; the route modules are imported at the end (they use the blueprints).
"""

from __future__ import annotations

from quart import Blueprint, Quart

from app.domain import Forbidden, NotFound
from app.infra.rate_limits import limit_writes
from app.site.csrf_check import check_csrf, csrf
from app.site.domain_errors import domain_error_page
from app.site.pager import DEFAULT_PAGE_SIZE
from app.site.session_cookie import SessionInterface
from app.site.signed_in import load_signed_in_user

blueprint = Blueprint("site", __name__)
auth_blueprint = Blueprint("auth", __name__)
admin_blueprint = Blueprint("admin", __name__, url_prefix="/admin")

for _face in (blueprint, auth_blueprint, admin_blueprint):
    _face.before_request(load_signed_in_user)
    _face.before_request(check_csrf)
    _face.before_request(limit_writes)
    _face.register_error_handler(NotFound, domain_error_page)
    _face.register_error_handler(Forbidden, domain_error_page)


def init_app(app: Quart) -> None:
    app.config.setdefault("SITE_PAGE_SIZE", DEFAULT_PAGE_SIZE)
    # CSRF is checked by the site's own blueprints (check_csrf), not app-wide: the JSON API
    # authenticates by token and never reads the cookie, so a CSRF token means nothing there.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    # The token is bound to the session (a random secret in it), so it lives as long as the
    # session; sign-in and sign-out replace the session. A timed token would turn a page left
    # open for an hour into a 400 on the next click.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.session_interface = SessionInterface()
    csrf.init_app(app)
    # quart-wtf also adds an app-wide before_request that does nothing here (the check is off by
    # default, and ours runs on the site's blueprints), and a plain context processor (Quart runs
    # those in a worker thread on every render) for a "crsf_token" no template uses: both go.
    app.before_request_funcs[None] = [hook for hook in app.before_request_funcs[None]
                                      if hook.__name__ != "csrf_protect"]
    app.template_context_processors[None] = [
        processor for processor in app.template_context_processors[None]
        if getattr(processor, "__module__", "") != "quart_wtf.csrf"]
    rendering.init_app(app)
    app.register_blueprint(blueprint)
    app.register_blueprint(auth_blueprint)
    app.register_blueprint(admin_blueprint)


from app.site import admin, articles, auth, live, pages, rendering  # noqa: E402  (routes on the blueprints)

__all__ = ["admin", "admin_blueprint", "articles", "auth", "auth_blueprint", "blueprint", "init_app",
           "live", "pages"]
