"""Liveness and readiness probes for load balancers, Docker and Kubernetes."""

from __future__ import annotations

import asyncio

from quart import Blueprint, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.db import get_database

blueprint = Blueprint("health", __name__)
READY_TIMEOUT_S = 2.0


@blueprint.get("/healthz")
async def healthz() -> tuple[dict[str, str], int]:
    """The process is alive and serving; says nothing about its dependencies."""
    return {"status": "ok"}, 200


@blueprint.get("/readyz")
async def readyz() -> tuple[dict[str, str], int]:
    """The database answers and carries the schema (it has been migrated)."""
    engine = get_database().engine
    if engine is None:
        return {"status": "unavailable", "reason": "database engine is not open"}, 503
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), engine.connect() as conn:
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    except TimeoutError:
        return {"status": "unavailable", "reason": "database did not answer in time"}, 503
    except (SQLAlchemyError, OSError) as error:
        current_app.logger.warning("readiness check failed: %s", error)
        reason = "database is not migrated (run: quart --app app db upgrade)"
        if "alembic_version" not in str(error):
            reason = f"database does not answer: {type(error).__name__}"
        return {"status": "unavailable", "reason": reason}, 503
    if version is None:
        return {"status": "unavailable", "reason": "database is not migrated"}, 503
    return {"status": "ready", "schema": str(version)}, 200
