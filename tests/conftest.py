"""Fixtures: the app under lifespan, its clients, a live Hypercorn server, a clean database per test.

The suite runs against one backend per pytest run: ``--db sqlite`` (default) or ``--db postgresql``
(creates its own database on 127.0.0.1:5432 and drops it afterwards). ``make test`` runs both.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright
from quart import Quart
from redis import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import create_app
from app.domain.passwords import hash_password_sync
from app.infra.database import get_database
from app.infra.migrations import upgrade
from app.models import ALL_TABLES
from tests.support.database import patient_sessions
from tests.support.servers import (
    PG_ADMIN_URL,
    create_pg_database,
    drop_pg_database,
    free_port,
    pg_url,
    running_server,
)

ROOT = Path(__file__).resolve().parent.parent
# One real argon2id hash, reused by fixtures that need many users (hashing 200 would take seconds).
TEST_PASSWORD = "correct horse battery"
TEST_PASSWORD_HASH = hash_password_sync(TEST_PASSWORD)


# The suite's tiers, one folder each, fastest first; ``make test-fast`` runs the first three.
TIERS = {
    "unit": "the domain layer, settings and rules, called directly",
    "api": "the JSON API through the test client",
    "site": "the server-rendered site through the test client",
    "live": "live updates over WebSocket",
    "lab": "the contexts lab and its WSGI twin",
    "browser": "the site in headless Chromium",
    "serving": "a real conduit-serve: transport, supervision, probes, database faults, the cluster",
    "tools": "commands, the load generator, the benchmarks",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", choices=("sqlite", "postgresql"), default="sqlite",
                     help="database backend the suite runs against")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backend(name): runs in that backend's pass only (a fault "
                            "test that breaks a database of its own kind)")
    for tier, what in TIERS.items():
        config.addinivalue_line("markers", f"{tier}: {what} (the tests in tests/{tier}/)")
    config.addinivalue_line("markers", "once: what it tests does not depend on the database "
                            "backend (a browser, the lab, a server's transport, a tool): it runs "
                            "in the SQLite pass only")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked for the other backend, and ``once`` tests outside the SQLite pass, are
    deselected (not skipped): each runs once per ``make test``, in its own backend's pass."""
    chosen = config.getoption("--db")
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        tier = Path(item.path).parent.name
        if tier in TIERS:  # the folder is the tier: ``pytest -m "unit or api"`` picks tiers
            item.add_marker(tier)
        marker = item.get_closest_marker("backend")
        once = item.get_closest_marker("once") is not None
        wanted = marker.args[0] if marker is not None else "sqlite" if once else None
        (drop if wanted is not None and wanted != chosen else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_report_header(config: pytest.Config) -> str:
    return f"conduit database backend: {config.getoption('--db')}"


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--db"))


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A freshly migrated database for this run, removed afterwards."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'conduit.db'}"
        upgrade(url)
        yield url
        return
    name = f"conduit_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        create_pg_database(name)
    except OSError as error:
        pytest.exit(f"PostgreSQL at {PG_ADMIN_URL} cannot be reached: {error}", returncode=3)
    try:
        upgrade(pg_url(name))
        yield pg_url(name)
    finally:
        drop_pg_database(name)


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[Quart]:
    """The app with its lifespan run (before_serving opened the engine)."""
    application = create_app({"env": "testing", "database_url": database_url})
    async with application.test_app():
        yield application


@pytest.fixture(autouse=True)
async def clean_database(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test starts from empty tables (schema kept), whatever the previous one wrote."""
    yield
    if "app" not in request.fixturenames:
        return
    application: Quart = request.getfixturevalue("app")
    engine = get_database(application).engine
    assert engine is not None
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(table.name for table in ALL_TABLES)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in ALL_TABLES:
                await conn.execute(table.delete())


@pytest.fixture
async def db(app: Quart) -> AsyncIterator[AsyncSession]:
    """A session of its own, as a request would have."""
    maker = get_database(app).sessionmaker
    assert maker is not None
    async with maker() as session:
        yield session


@pytest.fixture
async def patient(app: Quart) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions that wait up to a minute for a connection (tests.support.database.patient_sessions)."""
    async with patient_sessions(app) as maker:
        yield maker


@pytest.fixture
def client(app: Quart):
    """Quart's test client (no network)."""
    return app.test_client()


@pytest.fixture
async def http(app: Quart) -> AsyncIterator[httpx.AsyncClient]:
    """httpx over ASGI (no network), for code written against httpx."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://conduit.test") as client:
        yield client


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"  # screenshots; git-ignored


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless Chromium driven by Playwright (make test installs the package)."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser context (no cookies) and page per test."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    yield page
    await context.close()


REDIS_URL = "redis://127.0.0.1:6379/0"  # this machine's Redis (tests use a key prefix of their own)


@pytest.fixture(params=["database", "redis"])
def shared_store(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """What a server's workers (and hosts) share besides the database: nothing (the database does
    it: rate-limit counters, the live events' doorbell), or Redis under a prefix of its own, whose
    keys are deleted afterwards. The environment the server starts with."""
    if request.param == "database":
        yield {}
        return
    prefix = f"conduit-test-{secrets.token_hex(4)}"
    yield {"CONDUIT_REDIS_URL": REDIS_URL, "CONDUIT_REDIS_PREFIX": prefix}
    with Redis.from_url(REDIS_URL) as redis:
        keys = list(redis.scan_iter(f"{prefix}:*"))
        if keys:
            redis.delete(*keys)


@pytest.fixture(scope="session")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Real Hypercorn, started by conduit-serve with the shipped hypercorn.toml, on a free port."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CONDUIT_ENV": "testing", "CONDUIT_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "app.serving.serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    with running_server(command, probe=f"{base}/healthz", cwd=ROOT, env=env,
                        log=tmp_path_factory.mktemp("live") / "hypercorn.log"):
        yield base

