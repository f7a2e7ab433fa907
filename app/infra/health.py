"""Liveness and readiness probes for load balancers, Docker and Kubernetes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from quart import Blueprint, current_app
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from app.infra.database import get_database
from app.infra.migrations import head_revision
from app.infra.outages import sqlstate
from app.infra.settings import Settings

blueprint = Blueprint("health", __name__)
READY_TIMEOUT_S = 2.0
MIN_FREE_BYTES = 1024 * 1024  # below this, a SQLite write may fail with "database or disk is full"
Answer = tuple[dict[str, str], int]
HEAD = head_revision()  # read once, at import, from migrations/


@blueprint.get("/healthz")
async def healthz() -> Answer:
    """The process is alive and serving; says nothing about its dependencies."""
    return {"status": "ok"}, 200


@blueprint.get("/readyz")
async def readyz() -> Answer:
    """The database answers, carries the schema (it has been migrated) and can take writes: not
    read-only, and (SQLite) not on a full disk. Otherwise 503 with the reason."""
    engine = get_database().engine
    if engine is None:
        return _unavailable("database engine is not open")
    settings: Settings = current_app.config["CONDUIT"]
    postgres = not settings.is_sqlite
    if not postgres:  # first: on a read-only file system SQLite may not even open the file
        problem = await asyncio.to_thread(sqlite_storage_problem, Path(settings.url.database or ""))
        if problem:
            return _unavailable(problem)
    query = "SELECT version_num" + (", current_setting('transaction_read_only')" if postgres else "")
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), engine.connect() as conn:
            row = (await conn.execute(text(f"{query} FROM alembic_version"))).first()
    except TimeoutError:
        return _unavailable("database did not answer in time")
    except (SQLAlchemyError, OSError) as error:
        if _no_version_table(error):
            return _unavailable("database is not migrated (run: quart --app app db upgrade)")
        current_app.logger.warning("readiness check failed: %s", str(error).split("\n")[0][:200])
        return _unavailable(f"database unavailable ({_cause(error)})")
    if row is None:
        return _unavailable("database is not migrated")
    if row[0] != HEAD:
        return _unavailable(f"database schema is {row[0]}, this code needs {HEAD} "
                            "(run: quart --app app db upgrade)")
    if postgres and row[1] == "on":
        return _unavailable("database is read-only (a standby, or default_transaction_read_only)")
    return {"status": "ready", "schema": str(row[0])}, 200


def sqlite_storage_problem(database: Path) -> str | None:
    """Why SQLite could not write ``database`` now: a read-only file system or file, a full disk.
    (In a thread: statvfs on a network file system can block.)"""
    try:
        stats = os.statvfs(database.parent)
    except OSError as error:
        return f"database folder cannot be read ({error.strerror})"
    if stats.f_flag & os.ST_RDONLY:
        return "database is read-only (its file system is mounted read-only)"
    if database.exists() and not os.access(database, os.W_OK):
        return "database is read-only (its file cannot be written)"
    free = stats.f_bavail * stats.f_frsize
    if free < MIN_FREE_BYTES:
        return f"disk is full ({free // 1024} KiB free where the database is)"
    return None


def _no_version_table(error: BaseException) -> bool:
    """The server itself said the table is missing (not merely that a query naming it failed,
    as a lost connection's error does: its text carries the SQL)."""
    if not isinstance(error, DBAPIError):
        return False
    if sqlstate(error) == "42P01":  # PostgreSQL's undefined_table
        return True
    return (getattr(error.orig, "sqlite_errorcode", None) == 1  # SQLITE_ERROR
            and "no such table: alembic_version" in str(error.orig))


def _cause(error: BaseException) -> str:
    """The driver's name for what went wrong (ConnectionRefusedError, ConnectionDoesNotExistError,
    ObjectNotInPrerequisiteStateError ...): enough for an operator, nothing about the server."""
    if isinstance(error, DBAPIError):
        orig = error.orig
        found = getattr(orig, "__cause__", None) or orig  # asyncpg's error behind the adapter's
        return type(found).__name__
    return type(error).__name__


def _unavailable(reason: str) -> Answer:
    return {"status": "unavailable", "reason": reason}, 503
