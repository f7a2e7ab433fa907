"""Settings: read from CONDUIT_* variables, validated, and a bad one stops start-up in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app
from app.infra.setting_values import INSTANCE_DIR, ConfigError, instance_secret
from app.infra.settings import load_settings

pytestmark = pytest.mark.once  # settings: backend-independent

OLD_SOURCE_SECRET = "dev-only-insecure-secret-change-me"  # what development mode used to sign with

ROOT = Path(__file__).resolve().parents[2]
STRONG = "s" * 48


def test_defaults_use_a_sqlite_file_under_instance() -> None:
    settings = load_settings(environ={})
    assert settings.env == "development"
    assert settings.database_url == f"sqlite+aiosqlite:///{INSTANCE_DIR / 'conduit.db'}"
    assert settings.is_sqlite
    assert settings.pool_size == 5


def test_environment_variables_are_read_and_coerced() -> None:
    settings = load_settings(environ={
        "CONDUIT_ENV": "Production", "CONDUIT_SECRET_KEY": STRONG, "CONDUIT_POOL_SIZE": "12",
        "CONDUIT_LOG_LEVEL": "debug", "CONDUIT_DATABASE_URL": "postgresql://u:p@db:5432/conduit",
    })
    assert settings.env == "production"
    assert settings.pool_size == 12
    assert settings.log_level == "DEBUG"
    assert settings.database_url == "postgresql+asyncpg://u:p@db:5432/conduit"
    assert settings.session_cookie_secure  # always on in production


def test_the_contexts_lab_is_on_except_in_production_unless_asked_for() -> None:
    production = {"CONDUIT_ENV": "production", "CONDUIT_SECRET_KEY": STRONG}
    assert load_settings(environ={}).contexts_lab
    assert not load_settings(environ=production).contexts_lab
    assert load_settings(environ={**production, "CONDUIT_CONTEXTS_LAB": "true"}).contexts_lab
    assert not load_settings(environ={"CONDUIT_CONTEXTS_LAB": "off"}).contexts_lab
    off = create_app({"env": "production", "secret_key": STRONG})
    on = create_app({"env": "production", "secret_key": STRONG, "contexts_lab": True})
    assert "contexts.echo" not in off.view_functions and "contexts.echo" in on.view_functions


def test_overrides_win_over_the_environment() -> None:
    settings = load_settings(environ={"CONDUIT_POOL_SIZE": "3"}, overrides={"pool_size": 7})
    assert settings.pool_size == 7


@pytest.mark.parametrize(("environ", "message"), [
    ({"CONDUIT_ENV": "staging"}, "CONDUIT_ENV must be one of"),
    ({"CONDUIT_POOL_SIZE": "many"}, "CONDUIT_POOL_SIZE must be a whole number"),
    ({"CONDUIT_POOL_SIZE": "0"}, "CONDUIT_POOL_SIZE must be between 1 and 100"),
    ({"CONDUIT_MAX_IN_FLIGHT": "0"}, "CONDUIT_MAX_IN_FLIGHT must be between 1 and 10000"),
    ({"CONDUIT_MAX_WRITES_IN_FLIGHT": "0"}, "CONDUIT_MAX_WRITES_IN_FLIGHT must be between 1 and"),
    ({"CONDUIT_ADMIT_WAIT_MS": "-1"}, "CONDUIT_ADMIT_WAIT_MS must be between 0 and 10000"),
    ({"CONDUIT_REQUEST_DEADLINE": "10"}, "must be longer than CONDUIT_BODY_TIMEOUT (10 s)"),
    ({"CONDUIT_LOG_LEVEL": "LOUD"}, "CONDUIT_LOG_LEVEL must be one of"),
    ({"CONDUIT_METRICS_ALLOW": "prometheus.internal"}, "CONDUIT_METRICS_ALLOW must be comma-separated"),
    ({"CONDUIT_TRUSTED_PROXIES": "10.0.0.0/33"}, "CONDUIT_TRUSTED_PROXIES must be comma-separated"),
    ({"CONDUIT_DATABASE_URL": "mysql://root@localhost/db"}, "supported: sqlite+aiosqlite"),
    ({"CONDUIT_DATABASE_URL": "not a url"}, "is not a database URL"),
    ({"CONDUIT_DATABASE_URL": "sqlite+aiosqlite://"}, "must name a SQLite file"),
    ({"CONDUIT_SESSION_COOKIE_SECURE": "maybe"}, "must be true or false"),
    ({"CONDUIT_ENV": "production"}, "CONDUIT_SECRET_KEY must be set"),
    ({"CONDUIT_ENV": "production", "CONDUIT_SECRET_KEY": ""}, "CONDUIT_SECRET_KEY must be set"),
    ({"CONDUIT_ENV": "production", "CONDUIT_SECRET_KEY": "short"}, "at least 32 characters"),
])
def test_bad_settings_are_refused_with_a_clear_message(environ: dict[str, str],
                                                       message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ)
    text = str(caught.value.code)
    assert message in text
    assert text.startswith("conduit: configuration error: ")
    assert "\n" not in text


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings(environ={}, overrides={"colour": "blue"})


def _start(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONDUIT_")}
    return subprocess.run(argv, cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
                          timeout=60)


def test_production_without_a_secret_stops_start_up_in_one_line() -> None:
    result = _start([sys.executable, "-c", "import app.serving.asgi"], CONDUIT_ENV="production")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("conduit: configuration error: CONDUIT_SECRET_KEY must be set")


def test_conduit_serve_refuses_bad_settings_once_before_any_worker_starts() -> None:
    result = _start([sys.executable, "-m", "app.serving.serve"], CONDUIT_ENV="production")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # not one per worker
    assert "CONDUIT_SECRET_KEY must be set" in result.stderr


def test_the_cli_reports_a_bad_database_url_in_one_line() -> None:
    result = _start([sys.executable, "-m", "quart", "--app", "app", "db", "upgrade"],
                    CONDUIT_DATABASE_URL="mysql://root@localhost/conduit")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "conduit: configuration error: CONDUIT_DATABASE_URL uses 'mysql'" in result.stderr


def test_development_signs_with_a_secret_of_its_own(tmp_path: Path) -> None:
    """No secret in the source: one is generated once into the instance folder, mode 0600, and
    reused (sessions survive a restart); another instance gets another one."""
    first = instance_secret(tmp_path / "a")
    assert len(first) >= 32 and first != OLD_SOURCE_SECRET
    assert instance_secret(tmp_path / "a") == first
    assert (tmp_path / "a" / "secret_key").stat().st_mode & 0o777 == 0o600
    assert instance_secret(tmp_path / "b") != first
    settings = load_settings(environ={"CONDUIT_ENV": "development"})
    assert settings.secret_key == instance_secret() and settings.secret_key != OLD_SOURCE_SECRET


def test_the_admission_limit_is_lifted_in_testing_unless_asked_for() -> None:
    assert load_settings(environ={}).max_in_flight == 16  # SQLite
    postgres = {"CONDUIT_DATABASE_URL": "postgresql://postgres@127.0.0.1/x"}
    assert load_settings(environ=postgres).max_in_flight == 6
    assert load_settings(environ={"CONDUIT_ENV": "testing"}).max_in_flight == 10_000
    asked = load_settings(environ={"CONDUIT_ENV": "testing", "CONDUIT_MAX_IN_FLIGHT": "3"})
    assert asked.max_in_flight == 3


def test_writes_have_a_limit_of_their_own_on_sqlite_only() -> None:
    assert load_settings(environ={}).max_writes_in_flight == 2
    postgres = {"CONDUIT_DATABASE_URL": "postgresql://postgres@127.0.0.1/x"}
    assert load_settings(environ=postgres).max_writes_in_flight == 10_000
    assert load_settings(environ={"CONDUIT_ENV": "testing"}).max_writes_in_flight == 10_000
    asked = load_settings(environ={"CONDUIT_MAX_WRITES_IN_FLIGHT": "5"})
    assert asked.max_writes_in_flight == 5


def test_retry_times_read_as_words() -> None:
    from app.infra.rate_limit_rules import in_words

    assert [in_words(s) for s in (0, 1, 45, 60, 61, 3120, 3599, 3600, 3660, 7199, 7200, 90061)] == [
        "1 second", "1 second", "45 seconds", "1 minute", "2 minutes", "52 minutes", "60 minutes",
        "1 hour", "1 hour 1 minute", "2 hours", "2 hours", "25 hours 2 minutes"]
