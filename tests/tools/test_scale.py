"""Every read costs O(page): the work the database does for a page does not grow with the tables.

Two databases filled by the bulk seeder, 2,000 and 20,000 articles (the same shapes: a tag on a
fifth of the articles, an author of 5%, a reader following 1,000 who all write, an article with
5,000 comments and 5,000 favorites). Each request runs through the app, its SELECTs are caught
as the driver got them and then run again, measured by the database itself: on PostgreSQL the
rows every plan node produced or filtered away (``EXPLAIN ANALYZE``), on SQLite the virtual
machine's steps (a progress handler). A read that walks the table again does ten times the work
at ten times the size; here each may do at most twice the work (plus a little for the planner's
choice on tiny tables). Not a timing: the same rows give the same counts on a busy machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from quart import Quart
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine

from app import create_app
from app.commands.bulk_data import Shape, seed_scale
from app.infra.database import get_database
from app.infra.migrations import upgrade
from tests.support.servers import create_pg_database, drop_pg_database, pg_url

SMALL, LARGE = 2_000, 20_000
READS = ("/", "/?tag=popular", "/profile/prolific", "/profile/reader/favorites",
         "/article/hot-article", "/api/articles?limit=20", "/api/articles?limit=20&offset=500",
         "/api/articles?limit=20&offset={half}",
         "/api/articles?tag=popular", "/api/articles?author=prolific",
         "/api/articles?favorited=reader", "/api/articles?tag=popular&favorited=reader",
         "/api/articles/feed", "/api/articles/feed?offset=40", "/api/tags",
         "/api/articles/hot-article", "/api/profiles/prolific")
Work = dict[str, int]  # request -> the database's work for its reads

WALK = "SELECT count(a.body) FROM articles a JOIN users u ON u.id = a.author_id"  # the yardstick


async def _filled(backend: str, size: int, tmp: Path) -> str:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / f'scale-{size}.db'}"
    else:
        name = f"conduit_scale_test_{os.getpid()}_{secrets.token_hex(3)}"
        await asyncio.to_thread(create_pg_database, name)
        url = pg_url(name)
    await asyncio.to_thread(upgrade, url)
    engine = create_async_engine(url)
    try:
        # The reader follows 1,000 authors, each with articles at both sizes: a feed costs
        # O(followed + page), and the followed stay the same.
        await seed_scale(engine, replace(Shape.for_articles(size), reader_follows=1000))
    finally:
        await engine.dispose()
    return url


def _plan_rows(node: dict[str, Any]) -> int:
    """Rows this node and those below it produced or looked at and dropped."""
    seen = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
            + node.get("Rows Removed by Join Filter", 0) + node.get("Rows Removed by Index Recheck", 0))
    return int(seen * node.get("Actual Loops", 1)) + sum(_plan_rows(n) for n in node.get("Plans", []))


async def _pg_work(url: str, statements: list[tuple[str, Any]]) -> int:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        total = 0
        for statement, parameters in statements:
            plan = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", *parameters)
            total += _plan_rows(json.loads(plan)[0]["Plan"])
        return total
    finally:
        await conn.close()


def _sqlite_work(url: str, statements: list[tuple[str, Any]]) -> int:
    steps = 0

    def step() -> int:
        nonlocal steps
        steps += 1
        return 0

    conn = sqlite3.connect(url.split("///", 1)[1])
    try:
        conn.set_progress_handler(step, 100)  # called every 100 virtual machine instructions
        for statement, parameters in statements:
            conn.execute(statement, parameters).fetchall()
        return steps
    finally:
        conn.close()


async def _measure(url: str, size: int) -> Work:
    app: Quart = create_app({"env": "testing", "database_url": url})
    work: Work = {}
    async with app.test_app() as test_app:
        engine = get_database(app).engine
        assert engine is not None
        caught: list[tuple[str, Any]] = []

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def catch(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                  executemany: bool) -> None:
            if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                caught.append((statement, tuple(parameters)))

        client = test_app.test_client()
        signed_in = await client.post("/api/users/login", json={
            "user": {"email": "reader@scale.test", "password": "conduit-demo"}})
        token = (await signed_in.get_json())["user"]["token"]
        for path in READS:
            caught.clear()
            response = await client.get(path.format(half=size // 2),
                                        headers={"Authorization": f"Token {token}"})
            assert response.status_code == 200, (path, response.status_code)
            work[path] = await _work(url, list(caught))
        work[WALK] = await _work(url, [(WALK, ())])
    return work


async def _work(url: str, statements: list[tuple[str, Any]]) -> int:
    if url.startswith("postgresql"):
        return await _pg_work(url, statements)
    return await asyncio.to_thread(_sqlite_work, url, statements)


@pytest.fixture(scope="module")
async def works(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[int, Work]]:
    tmp = tmp_path_factory.mktemp("scale")
    urls = [await _filled(backend, size, tmp) for size in (SMALL, LARGE)]
    try:
        yield {size: await _measure(url, size) for size, url in zip((SMALL, LARGE), urls, strict=True)}
    finally:
        for url in urls if backend == "postgresql" else ():
            await asyncio.to_thread(drop_pg_database, url.rsplit("/", 1)[1])


@pytest.mark.parametrize("path", READS)
def test_a_read_does_not_grow_with_the_tables(works: dict[int, Work], path: str) -> None:
    small, large = works[SMALL][path], works[LARGE][path]
    assert large <= 2 * small + 200, (
        f"{path}: {large} units of work at {LARGE:,} articles against {small} at {SMALL:,} "
        f"({large / max(small, 1):.1f}x for 10x the rows)")


def test_the_measure_sees_a_read_that_walks_the_table(works: dict[int, Work]) -> None:
    """The yardstick itself: a count of every article is ten times the work at ten times the rows."""
    assert works[LARGE][WALK] > 5 * works[SMALL][WALK]
