"""The app's CLI: migrations, deterministic seeding, create-admin."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import users
from app.infra.database import get_database
from app.infra.migrations import head_revision
from app.models import ALL_TABLES, Article, Comment, Favorite, Follow, Tag, User

ROOT = Path(__file__).resolve().parents[2]


def _cli(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONDUIT_ENV": "testing", "CONDUIT_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "quart", "--app", "app", *args], cwd=ROOT,
                          env=env, input=stdin, capture_output=True, text=True, timeout=120)


async def _run(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_cli, database_url, *args, stdin=stdin)


async def _snapshot(db: AsyncSession) -> dict[str, Any]:
    db.expunge_all()
    snapshot = {
        "users": (await db.execute(select(User.username, User.email, User.bio, User.created_at)
                                   .order_by(User.id))).all(),
        "articles": (await db.execute(select(Article.slug, Article.title, Article.body,
                                             Article.author_id, Article.created_at)
                                      .order_by(Article.id))).all(),
        "tags": (await db.scalars(select(Tag.name).order_by(Tag.id))).all(),
        "comments": (await db.execute(select(Comment.body, Comment.article_id, Comment.author_id)
                                      .order_by(Comment.id))).all(),
        "favorites": (await db.execute(select(Favorite.user_id, Favorite.article_id)
                                       .order_by(Favorite.user_id, Favorite.article_id))).all(),
        "follows": (await db.execute(select(Follow.follower_id, Follow.followee_id)
                                     .order_by(Follow.follower_id, Follow.followee_id))).all(),
    }
    await db.rollback()  # end the read: the CLI in another process needs the write lock
    return snapshot


async def _empty(app: Quart) -> None:
    """Empty every table and restart the id counters, so a re-seed can repeat the ids."""
    engine = get_database(app).engine
    assert engine is not None
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("TRUNCATE users, tags RESTART IDENTITY CASCADE"))
        else:  # SQLite rowids restart at max(id) + 1 on their own
            for table in ALL_TABLES:
                await conn.execute(table.delete())


async def test_seed_is_deterministic_and_refuses_a_full_database(
        app: Quart, db: AsyncSession, database_url: str) -> None:
    first = await _run(database_url, "seed", "--users", "5", "--articles", "9", "--seed", "7")
    assert first.returncode == 0, first.stderr
    assert "seeded 5 users, 9 articles" in first.stdout
    snapshot = await _snapshot(db)
    assert len(snapshot["users"]) == 5 and len(snapshot["articles"]) == 9
    assert snapshot["tags"] and snapshot["favorites"]

    again = await _run(database_url, "seed")
    assert again.returncode != 0 and "already has data" in again.stderr
    skipped = await _run(database_url, "seed", "--if-empty")
    assert skipped.returncode == 0 and "not seeding" in skipped.stdout

    await _empty(app)
    same = await _run(database_url, "seed", "--users", "5", "--articles", "9", "--seed", "7")
    assert same.returncode == 0, same.stderr
    assert await _snapshot(db) == snapshot

    await _empty(app)
    other = await _run(database_url, "seed", "--users", "5", "--articles", "9", "--seed", "8")
    assert other.returncode == 0, other.stderr
    assert await _snapshot(db) != snapshot


async def test_seed_scale_fills_in_bulk_with_counters_made_right(app: Quart, database_url: str,
                                                                  db: AsyncSession) -> None:
    await _empty(app)
    result = await _run(database_url, "seed", "--scale", "300")
    assert result.returncode == 0, result.stderr
    assert "seeded 6000 users" in result.stdout and "300 articles" in result.stdout
    assert await db.scalar(select(func.count()).select_from(Article)) == 300
    hot = (await db.execute(select(Article.favorites_count, Article.comments_count)
                            .where(Article.slug == "hot-article"))).one()
    assert hot == (5000, 5000)
    popular = await db.scalar(select(Tag.articles_count).where(Tag.name == "popular"))
    assert popular == 60  # every fifth article
    await db.rollback()
    again = await _run(database_url, "seed", "--scale", "300")
    assert again.returncode == 1 and "already has data" in again.stderr
    skipped = await _run(database_url, "seed", "--scale", "300", "--if-empty")
    assert skipped.returncode == 0 and "not seeding" in skipped.stdout
    assert (await _run(database_url, "seed", "--scale", "5")).returncode == 2
    recounted = await _run(database_url, "db", "recount")
    assert recounted.returncode == 0 and "no drift" in recounted.stdout


async def test_seed_rejects_bad_sizes(database_url: str) -> None:
    result = await _run(database_url, "seed", "--users", "0")
    assert result.returncode == 2
    assert "Invalid value for '--users'" in result.stderr


async def test_demo_users_can_sign_in(app: Quart, db: AsyncSession, database_url: str) -> None:
    assert (await _run(database_url, "seed", "--users", "2", "--articles", "1")).returncode == 0
    account = await users.authenticate(db, email="alice@conduit.test", password="conduit-demo")
    assert account.username == "alice"


async def test_create_admin_creates_or_promotes(app: Quart, db: AsyncSession,
                                                database_url: str) -> None:
    made = await _run(database_url, "create-admin", "root", "--email", "root@example.test",
                      stdin="admin-password\nadmin-password\n")
    assert made.returncode == 0, made.stderr
    assert "created administrator root <root@example.test>" in made.stdout
    account = await users.authenticate(db, email="root@example.test", password="admin-password")
    assert account.is_admin

    await users.register(db, username="bob", email="bob@example.test", password="builder-99")
    promoted = await _run(database_url, "create-admin", "bob", stdin="")  # asks for nothing
    assert promoted.returncode == 0 and "bob is now an administrator" in promoted.stdout
    db.expunge_all()
    bob = await users.authenticate(db, email="bob@example.test", password="builder-99")
    assert bob.is_admin

    missing = await _run(database_url, "create-admin", "ghost")
    assert missing.returncode == 2 and "give --email" in missing.stderr
    short = await _run(database_url, "create-admin", "eve", "--email", "eve@example.test",
                       "--password", "short")
    assert short.returncode == 1 and "too short" in short.stderr


@pytest.mark.parametrize("command", [["db", "current"]])
async def test_db_current_shows_the_head(database_url: str, command: list[str]) -> None:
    result = await _run(database_url, *command)
    assert result.returncode == 0, result.stderr
    assert f"{head_revision()} (head)" in result.stdout


def test_demo_migrates_then_seeds_once(tmp_path: Path) -> None:
    """`make run`'s one command: a fresh database is migrated and seeded; a second run keeps it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    first = _cli(url, "demo")
    assert first.returncode == 0, first.stderr
    upgraded, seeded = first.stdout.splitlines()
    assert upgraded == "database upgraded to head"
    said = re.fullmatch(r"seeded 12 users, 40 articles, (\d+) comments, (\d+) favorites, (\d+) "
                        r"follows \(every password: conduit-demo\)", seeded)
    assert said is not None, seeded
    with sqlite3.connect(tmp_path / "demo.db") as written:
        counts = [written.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("comments", "favorites", "follows")]
    assert [int(n) for n in said.groups()] == counts and min(counts) > 0
    again = _cli(url, "demo")
    assert again.returncode == 0 and again.stdout.splitlines()[-1] == "database already has data: not seeding"


async def test_purge_load_removes_what_the_load_generator_wrote_and_recounts(
        app: Quart, db: AsyncSession, database_url: str) -> None:
    from app.domain import articles, comments, favorites
    from tests.conftest import TEST_PASSWORD_HASH
    from tests.support.database import add_users

    owner, = await add_users(db, 1, TEST_PASSWORD_HASH, prefix="owner")
    kept = await articles.create_article(db, owner, title="Kept", description="d", body="b",
                                         tags=["real"])
    db.add(User(username="ltabn0", email="ltabn0@load.test", password_hash=TEST_PASSWORD_HASH))
    await db.commit()
    loader = await db.scalar(select(User.id).where(User.email == "ltabn0@load.test"))
    assert loader is not None
    await articles.create_article(db, loader, title="Load x", description="d", body="b",
                                  tags=["load"])
    await favorites.favorite(db, loader, kept.slug)
    await comments.add_comment(db, loader, kept.slug, "a load comment")
    await db.rollback()

    result = await _run(database_url, "purge-load")
    assert result.returncode == 0, result.stderr
    assert "removed 1 load-test account(s)" in result.stdout
    db.expunge_all()
    assert (await db.scalars(select(User.username))).all() == ["owner0"]
    assert (await db.scalars(select(Article.title))).all() == ["Kept"]
    assert await db.scalar(select(func.count()).select_from(Comment)) == 0
    article = (await db.execute(select(Article.favorites_count, Article.comments_count))).one()
    assert tuple(article) == (0, 0)  # the counters they moved, recounted
    assert await db.scalar(select(Tag.articles_count).where(Tag.name == "load")) in (0, None)
    await db.rollback()
