"""Alembic, driven from code: the same calls serve the CLI, ``make run`` and the test suite.

Migrations run as a command before the server starts, never in ``before_serving`` (every Hypercorn
worker runs that). ``env.py`` calls ``asyncio.run``, so these must not be called inside a running
loop; from async code use ``asyncio.to_thread``.
"""

from __future__ import annotations

import functools

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from app.infra.settings import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Kept out of the ini-style options, where '%' in a password would be read as interpolation.
    config.attributes["database_url"] = database_url
    return config


@functools.cache
def head_revision() -> str:
    """The newest revision in migrations/ (what this code needs the database to be at)."""
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    return str(head)


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)
