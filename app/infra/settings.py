"""Settings from the environment (prefix ``CONDUIT_``), validated once at start-up.

A bad setting stops start-up with one clear line: ``ConfigError`` is a ``SystemExit`` whose message
Python (and multiprocessing, for Hypercorn workers) prints to stderr without a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from sqlalchemy.engine import URL, make_url

from app.infra.setting_values import INSTANCE_DIR, coerce, instance_secret, networks, normalise_database_url
from app.infra.setting_values import PROJECT_ROOT as PROJECT_ROOT
from app.infra.setting_values import ConfigError as ConfigError

ENVIRONMENTS = ("development", "testing", "production")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_PRODUCTION_SECRET = 32
JWT_EXPIRY_MIN, JWT_EXPIRY_MAX = 60, 366 * 24 * 3600
# An allowed CORS origin is "*" or a scheme and host (and port), with no path: https://app.example.com
ORIGIN_RE = re.compile(r"^https?://[^/\s,]+$")
REDIS_URL_RE = re.compile(r"^(rediss?://\S+|unix:///\S+)$")
REDIS_PREFIX_RE = re.compile(r"^[A-Za-z0-9_:-]{1,64}$")


LIVE_BOUNDS = (("live_sockets_per_address", 1, 100_000), ("live_sockets_per_user", 1, 10_000),
               ("live_queue", 1, 100_000), ("live_ping_seconds", 1, 3600), ("live_poll_ms", 10, 10_000))
LOG_FORMATS = ("text", "json")
TESTING_IN_FLIGHT = 10_000
SQLITE_IN_FLIGHT, POSTGRES_IN_FLIGHT = 16, 6
SQLITE_WRITES_IN_FLIGHT = 2
OVERLOAD_BOUNDS = (("max_in_flight", 1, 10_000), ("max_writes_in_flight", 1, 10_000),
                   ("admit_wait_ms", 0, 10_000),
                   ("request_deadline", 1, 3600))


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = f"sqlite+aiosqlite:///{INSTANCE_DIR / 'conduit.db'}"
    secret_key: str = ""  # production: required; elsewhere, generated once (instance_secret)
    pool_size: int = 5
    # Seconds a request waits for the database: to connect, for a statement, for a pooled connection
    # (and, on SQLite, for the write lock). Past it the answer is 503 with Retry-After, not a hang.
    db_timeout: int = 5
    # PostgreSQL: a pooled connection idle this many seconds is pinged before use (0: every time).
    db_ping_idle: int = 1
    # Overload (app/serving/admission.py, docs/settings.md#overload): requests one worker works on
    # at once (unset: 16 on SQLite, 6 on PostgreSQL, and TESTING_IN_FLIGHT when CONDUIT_ENV is
    # testing, where the suite's bursts test other things and a test asks for a limit); of them,
    # how many may be writes (unset: 2 on SQLite, else no limit of their own); how long, in
    # milliseconds, a request past a limit waits for a slot before it is refused (503 "busy");
    # and seconds a request may take in all before it is cancelled (503): HAProxy's "timeout
    # server" in deploy/, past which nobody waits.
    max_in_flight: int = 16
    max_writes_in_flight: int = 10_000
    admit_wait_ms: int = 0
    request_deadline: int = 30
    log_level: str = "INFO"
    # Logs (app/observe, docs/observability.md): "text" or "json" lines (unset: json in
    # production); where access lines go ("-": stdout, a file's path, or "off"); a request that
    # takes this many milliseconds or more gets a line naming its statements (0: never).
    log_format: str = ""
    access_log: str = "-"
    slow_request_ms: int = 1000
    max_content_length: int = 1024 * 1024
    # Seconds a request's body has to arrive in full once the app asks for it (408 and the
    # connection closed past it): a client trickling a body cannot hold a connection for long.
    # The headers' deadline is Hypercorn's keep_alive_timeout (hypercorn.toml).
    body_timeout: int = 10
    session_cookie_secure: bool = False
    jwt_expiry_seconds: int = 14 * 24 * 3600  # API tokens (Authorization: Token <jwt>)
    cors_origins: str = "*"  # comma-separated origins allowed to call /api from a browser
    # The contexts lab (/contexts) includes an endpoint that blocks a worker on purpose: on unless
    # CONDUIT_ENV is production, where it must be asked for (CONDUIT_CONTEXTS_LAB=true).
    contexts_lab: bool = True
    # Limits on sign-in, registration, password changes and writes (app/infra/rate_limits.py): on unless
    # CONDUIT_ENV is testing, where a test asks for them (the suite signs in thousands of times).
    rate_limits: bool = True
    # Redis (redis://host:6379/0, rediss://, unix:///path.sock) for what several hosts share: the
    # rate-limit counters. Unset: they live in the database, which every worker shares already.
    redis_url: str = ""
    redis_prefix: str = "conduit"  # every key this app writes in Redis starts with it
    # Proxies (addresses or networks, comma-separated) whose X-Forwarded-For is believed. Anyone
    # else's is ignored: a client could otherwise name any address and dodge its limits.
    trusted_proxies: str = ""
    # Who may read /metrics (addresses or networks, comma-separated): this machine by default; a
    # request a proxy forwarded is refused whoever sent it (HAProxy denies the path too).
    metrics_allow: str = "127.0.0.1,::1"
    # Live updates over WebSocket (app/live): open sockets allowed per client address and per
    # signed-in user, in each worker; events a socket may have waiting before it is cut off as
    # too slow; seconds between heartbeats (a client that has not answered one by the next is
    # closed); how often, in milliseconds, a worker looks for new events on SQLite (PostgreSQL
    # and Redis ring instead).
    live_sockets_per_address: int = 100
    live_sockets_per_user: int = 20
    live_queue: int = 256
    live_ping_seconds: int = 20
    live_poll_ms: int = 50

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return networks(self.trusted_proxies)

    @property
    def metrics_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return networks(self.metrics_allow)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def url(self) -> URL:
        return make_url(self.database_url)


def _default_in_flight(env: str, database_url: str) -> int:
    """Measured (python -m bench.overload): SQLite's requests wait in aiosqlite's threads and for
    the file's write lock, so a worker needs more of them in flight to keep its core busy; on
    PostgreSQL a request's I/O is the event loop's own work, and fewer in flight keep the loop
    quick enough to refuse what it cannot serve."""
    if env == "testing":
        return TESTING_IN_FLIGHT
    return SQLITE_IN_FLIGHT if database_url.startswith("sqlite") else POSTGRES_IN_FLIGHT


def _default_writes_in_flight(env: str, database_url: str) -> int:
    """Of those, the writes (POST, PUT, PATCH, DELETE): on SQLite every write of every worker waits
    for the file's one write lock, and more than two per worker in flight only lengthens that
    queue (python -m bench.overload: the writes' p99 at 2x went from 1.4-2.5 s to 0.6-0.7 s, the
    goodput up, not down). On PostgreSQL, where writes run side by side, a limit of 2 changed
    nothing measurable: there, the whole limit is the only one."""
    if env != "testing" and database_url.startswith("sqlite"):
        return SQLITE_WRITES_IN_FLIGHT
    return TESTING_IN_FLIGHT


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Read ``CONDUIT_*`` variables, apply ``overrides`` (tests, factories), validate."""
    environ = os.environ if environ is None else environ
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    for name in known:
        key = f"CONDUIT_{name.upper()}"
        if key in environ:
            values[name] = environ[key]
    for name, value in (overrides or {}).items():
        if name not in known:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = value
    defaults = Settings()
    for name, value in values.items():
        values[name] = coerce(name, value, type(getattr(defaults, name)))
    settings = replace(defaults, **values)

    env = settings.env.strip().lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"CONDUIT_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    level = settings.log_level.strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"CONDUIT_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    log_format = settings.log_format.strip().lower() or ("json" if env == "production" else "text")
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"CONDUIT_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    if not 0 <= settings.slow_request_ms <= 3_600_000:
        raise ConfigError("CONDUIT_SLOW_REQUEST_MS must be between 0 (off) and 3600000")
    if not settings.access_log.strip():
        raise ConfigError("CONDUIT_ACCESS_LOG must be -, off or a file's path")
    if not 1 <= settings.pool_size <= 100:
        raise ConfigError("CONDUIT_POOL_SIZE must be between 1 and 100")
    if not 1 <= settings.db_timeout <= 300:
        raise ConfigError("CONDUIT_DB_TIMEOUT must be between 1 and 300 seconds")
    if not 0 <= settings.db_ping_idle <= 3600:
        raise ConfigError("CONDUIT_DB_PING_IDLE must be between 0 and 3600 seconds")
    for name, low, high in OVERLOAD_BOUNDS:
        if not low <= getattr(settings, name) <= high:
            raise ConfigError(f"CONDUIT_{name.upper()} must be between {low} and {high}")
    if not 1 <= settings.body_timeout <= 300:
        raise ConfigError("CONDUIT_BODY_TIMEOUT must be between 1 and 300 seconds")
    if settings.request_deadline <= settings.body_timeout:
        raise ConfigError("CONDUIT_REQUEST_DEADLINE must be longer than CONDUIT_BODY_TIMEOUT "
                          f"({settings.body_timeout} s): a slow body is answered 408 first")
    if not 1024 <= settings.max_content_length <= 64 * 1024 * 1024:
        raise ConfigError("CONDUIT_MAX_CONTENT_LENGTH must be between 1 KiB and 64 MiB")
    if not JWT_EXPIRY_MIN <= settings.jwt_expiry_seconds <= JWT_EXPIRY_MAX:
        raise ConfigError("CONDUIT_JWT_EXPIRY_SECONDS must be between 60 (a minute) and "
                          f"{JWT_EXPIRY_MAX} (366 days)")
    origins = settings.cors_origin_list
    bad = [origin for origin in origins if origin != "*" and not ORIGIN_RE.match(origin)]
    if not origins or bad:
        raise ConfigError("CONDUIT_CORS_ORIGINS must be * or comma-separated origins such as "
                          f"https://app.example.com (no path), not {settings.cors_origins!r}")
    for name in ("trusted_proxies", "metrics_allow"):
        try:
            networks(getattr(settings, name))
        except ValueError:
            raise ConfigError(f"CONDUIT_{name.upper()} must be comma-separated addresses or "
                              "networks such as 10.0.0.5,192.168.1.0/24, not "
                              f"{getattr(settings, name)!r}") from None
    if settings.redis_url and not REDIS_URL_RE.match(settings.redis_url):
        raise ConfigError("CONDUIT_REDIS_URL must be redis://host:port/db, rediss://... or "
                          f"unix:///path/to/redis.sock, not {settings.redis_url!r}")
    if not REDIS_PREFIX_RE.match(settings.redis_prefix):
        raise ConfigError("CONDUIT_REDIS_PREFIX must be 1-64 letters, digits, '-', '_' or ':'")
    for name, low, high in LIVE_BOUNDS:
        if not low <= getattr(settings, name) <= high:
            raise ConfigError(f"CONDUIT_{name.upper()} must be between {low} and {high}")
    secret = settings.secret_key
    if env == "production":
        if len(secret) < MIN_PRODUCTION_SECRET:
            raise ConfigError(
                f"CONDUIT_SECRET_KEY must be set to a random secret of at least "
                f"{MIN_PRODUCTION_SECRET} characters in production "
                '(python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
    elif not secret:
        secret = instance_secret()
    return replace(
        settings,
        env=env,
        secret_key=secret,
        log_level=level,
        log_format=log_format,
        database_url=normalise_database_url(settings.database_url),
        session_cookie_secure=settings.session_cookie_secure or env == "production",
        contexts_lab=settings.contexts_lab if "contexts_lab" in values else env != "production",
        rate_limits=settings.rate_limits if "rate_limits" in values else env != "testing",
        max_in_flight=settings.max_in_flight if "max_in_flight" in values
        else _default_in_flight(env, settings.database_url),
        max_writes_in_flight=settings.max_writes_in_flight if "max_writes_in_flight" in values
        else _default_writes_in_flight(env, settings.database_url),
    )
