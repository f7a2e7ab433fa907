"""The migrated schema: it matches the models, enforces the rules itself, and keeps time exactly."""

from __future__ import annotations

import asyncio
import warnings
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from quart import Quart
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.infra.database import get_database, make_engine
from app.infra.settings import load_settings
from app.models import Base, Follow, User
from tests.conftest import TEST_PASSWORD_HASH
from tests.support.database import add_users


async def test_migrations_produce_exactly_the_models_schema(app: Quart) -> None:
    engine = get_database(app).engine
    assert engine is not None

    def diff(sync_conn):
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    with warnings.catch_warnings():
        # SQLite cannot reflect the lower(username) index; the next test checks it works.
        warnings.filterwarnings("ignore", message=".*expression-based index")
        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
    assert differences == []


async def test_usernames_are_unique_regardless_of_case_in_the_database(db: AsyncSession) -> None:
    db.add(User(username="Alice", email="a@example.test", password_hash="x"))
    await db.commit()
    db.add(User(username="alice", email="b@example.test", password_hash="x"))
    with pytest.raises(IntegrityError):
        await db.commit()
    await db.rollback()


async def test_self_follow_is_refused_by_the_database(db: AsyncSession) -> None:
    (alice,) = await add_users(db, 1, TEST_PASSWORD_HASH)
    db.add(Follow(follower_id=alice, followee_id=alice))
    with pytest.raises(IntegrityError):
        await db.commit()
    await db.rollback()


async def test_timestamps_are_utc_with_microseconds(db: AsyncSession) -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone(timedelta(hours=2)))
    db.add(User(username="t", email="t@example.test", password_hash="x", created_at=moment,
                updated_at=moment))
    await db.commit()
    db.expunge_all()
    stored = await db.scalar(select(User.created_at))
    assert stored == moment
    assert stored is not None and stored.tzinfo == UTC and stored.microsecond == 891011
    with pytest.raises(Exception, match="naive datetime"):
        db.add(User(username="n", email="n@example.test", password_hash="x",
                    created_at=datetime(2026, 1, 1)))
        await db.commit()
    await db.rollback()


async def test_sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout(app: Quart) -> None:
    engine = get_database(app).engine
    assert engine is not None
    if engine.dialect.name != "sqlite":
        async with engine.connect() as conn:
            assert (await conn.scalar(text("SHOW transaction_isolation"))) == "read committed"
            assert (await conn.scalar(text("SHOW statement_timeout"))) == "5s"  # CONDUIT_DB_TIMEOUT
        return
    async with engine.connect() as conn:
        assert (await conn.scalar(text("PRAGMA journal_mode"))) == "wal"
        assert (await conn.scalar(text("PRAGMA foreign_keys"))) == 1
        assert (await conn.scalar(text("PRAGMA busy_timeout"))) == 5000  # CONDUIT_DB_TIMEOUT


async def _usernames_still_unique_regardless_of_case(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            insert = text("INSERT INTO users (username, email, password_hash, is_admin, created_at, "
                          "updated_at) VALUES (:name, :email, 'x', false, :now, :now)")
            now = datetime.now(UTC)
            await conn.execute(insert, {"name": "Case", "email": "a@example.test", "now": now})
            with pytest.raises(IntegrityError):
                async with conn.begin_nested():
                    await conn.execute(insert, {"name": "case", "email": "b@example.test", "now": now})
    finally:
        await engine.dispose()


async def test_downgrade_to_base_and_upgrade_again(backend: str, tmp_path) -> None:
    from app.infra.migrations import downgrade, upgrade
    from tests.support.servers import create_pg_database, drop_pg_database, pg_url

    name = f"conduit_migrate_{tmp_path.name[-12:]}".replace("-", "_").lower()
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else pg_url(name)
    if backend != "sqlite":
        await asyncio.to_thread(create_pg_database, name)
    try:
        # Alembic's env.py runs its own event loop, so it must run outside this one.
        await asyncio.to_thread(upgrade, url)
        await asyncio.to_thread(downgrade, url, "0001")
        await _usernames_still_unique_regardless_of_case(url)  # nothing of 0001 lost on the way
        await asyncio.to_thread(downgrade, url, "base")
        await asyncio.to_thread(upgrade, url)
    finally:
        if backend != "sqlite":
            await asyncio.to_thread(drop_pg_database, name)


async def test_migrations_and_commands_have_no_statement_limit(database_url: str) -> None:
    """An index build may take minutes: the engine for migrations and CLI commands does not
    cancel statements at CONDUIT_DB_TIMEOUT as the serving one does."""
    engine = make_engine(load_settings(overrides={"database_url": database_url}), serving=False)
    try:
        async with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                assert (await conn.scalar(text("SHOW statement_timeout"))) == "0"
            else:
                assert (await conn.scalar(text("PRAGMA busy_timeout"))) == 60_000
    finally:
        await engine.dispose()
