"""One setting's value, read from its text: what app/infra/settings.py checks with. A bad one is
``ConfigError`` (a ``SystemExit`` whose one line Python prints without a traceback)."""

from __future__ import annotations

import os
import secrets
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INSTANCE_DIR = PROJECT_ROOT / "instance"
SECRET_FILE = "secret_key"  # in the instance folder: development and testing make it once
# The asyncio drivers this project runs on, and the plain spellings people paste.
DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


class ConfigError(SystemExit):
    """A setting is missing or wrong; the message is the one line a person reads."""

    def __init__(self, message: str) -> None:
        super().__init__(f"conduit: configuration error: {message}")


def networks(raw: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Comma-separated addresses or networks (10.0.0.5,192.168.1.0/24); ValueError if not."""
    return tuple(ip_network(item.strip(), strict=False) for item in raw.split(",") if item.strip())


def coerce(name: str, raw: Any, kind: type) -> Any:
    if kind is bool and isinstance(raw, str):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"CONDUIT_{name.upper()} must be true or false, not {raw!r}")
    if kind is int and not isinstance(raw, int):
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ConfigError(f"CONDUIT_{name.upper()} must be a whole number, not {raw!r}") from None
    return raw


def normalise_database_url(raw: str) -> str:
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(f"CONDUIT_DATABASE_URL is not a database URL: {raw!r}") from None
    driver = DRIVERS.get(url.drivername)
    if driver is None:
        raise ConfigError(
            f"CONDUIT_DATABASE_URL uses {url.drivername!r}; supported: "
            "sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db"
        )
    if driver.startswith("sqlite") and url.database in (None, "", ":memory:"):
        raise ConfigError("CONDUIT_DATABASE_URL must name a SQLite file (an in-memory database "
                          "is not shared between connections)")
    return url.set(drivername=driver).render_as_string(hide_password=False)


def instance_secret(folder: Path = INSTANCE_DIR) -> str:
    """The development/testing secret: random, made once into ``instance/secret_key`` (mode 0600,
    never in the source, so nobody can sign a cookie or token for someone else's server) and
    reused, so sessions survive a restart. Workers starting at once agree: the first creates it."""
    path = folder / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile
        return path.read_text().strip()
    with os.fdopen(handle, "w") as file:
        file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
