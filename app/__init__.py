"""Application factory: settings, the database, blueprints, error handlers, CLI commands."""

from __future__ import annotations

import math
from collections.abc import Mapping
from importlib.metadata import version
from typing import Any

from quart import Quart
from quart.json.provider import DefaultJSONProvider
from werkzeug.routing import BaseConverter

from app.domain import passwords
from app.infra import migrations
from app.infra.database import Database
from app.infra.rate_limiter import Limiter
from app.infra.settings import PROJECT_ROOT, Settings, load_settings
from app.live import Live
from app.observe import metrics
from app.observe.layer import Observe
from app.observe.logs import configure_logging
from app.serving.admission import Admission
from app.serving.deadline import Conduit
from app.serving.guard import PROBES, Guard
from app.serving.upstream_fixes import drop_flask_context_processor


class JSONProvider(DefaultJSONProvider):
    """Every JSON answer says its charset (RealWorld clients expect it) and keeps the order its
    keys were built in (sorting them is work no client needs)."""

    mimetype = "application/json; charset=utf-8"
    sort_keys = False


class ArticleSlug(BaseConverter):
    """An article's slug in a route: any segment but ``feed``, which is the feed's own route, so
    ``OPTIONS /api/articles/feed`` allows what the feed allows (GET), not an article's PUT and
    DELETE too (no article is called "feed": app.domain.articles.RESERVED_SLUGS)."""

    regex = r"(?!feed\Z)[^/]+"  # matched against the path segment alone


def create_app(overrides: Mapping[str, Any] | None = None) -> Quart:
    """Build an app. ``overrides`` are setting names (``database_url``...) that win over the env.

    A bad setting raises ``ConfigError`` (a SystemExit): one line on stderr, no traceback.
    """
    settings = load_settings(overrides=overrides)
    passwords.use_test_cost(settings.env == "testing")
    app = Conduit(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    # "/api/articles//favorite" must not be redirected (308, method kept) to "/api/articles/favorite".
    app.url_map.merge_slashes = False
    app.url_map.converters["slug"] = ArticleSlug
    configure(app, settings)
    database = Database()
    database.init_app(app, settings)
    Limiter().init_app(app, settings, database.opened_engine)
    Live().init_app(app, settings, database.opened_engine)

    from app import api, contexts, errors, site
    from app.commands.cli import register_commands
    from app.infra import health

    app.register_blueprint(health.blueprint)
    # Each face registers its own blueprints, hooks and extensions; none is app-wide.
    site.init_app(app)
    api.init_app(app)
    if settings.contexts_lab:
        contexts.init_app(app)
    errors.init_app(app)
    register_commands(app)
    drop_flask_context_processor(app)
    app.json = JSONProvider(app)
    admitted = Admission(app.asgi_app, limit=settings.max_in_flight,
                         wait_s=settings.admit_wait_ms / 1000, probes=PROBES,
                         writes=settings.max_writes_in_flight)
    guarded = Guard(admitted, hsts=settings.env == "production", lab=settings.contexts_lab)
    app.asgi_app = Observe(guarded, proxies=settings.trusted_proxy_networks,  # type: ignore[method-assign]
                           slow_s=settings.slow_request_ms / 1000 or math.inf, probes=PROBES,
                           metrics_allow=settings.metrics_networks)
    metrics.BUILD.labels(version("quart-conduit"), migrations.head_revision()).set(1)
    return app


def configure(app: Quart, settings: Settings) -> None:
    app.config.update(
        CONDUIT=settings,
        SECRET_KEY=settings.secret_key,
        TESTING=settings.env == "testing",
        MAX_CONTENT_LENGTH=settings.max_content_length,
        BODY_TIMEOUT=settings.body_timeout,  # Quart's: 408 when the body is not in by then
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
    )
    app.jinja_env.autoescape = True
    # Every logger through the root's one handler (Quart adds none of its own then).
    configure_logging(settings.log_format, settings.log_level, settings.access_log)
    app.logger.setLevel(settings.log_level)

