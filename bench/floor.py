"""The floor: what this stack costs at its leanest, to measure the app against (`make bench`).

Bare Quart on the same Hypercorn settings, raw asyncpg or aiosqlite, one statement per request and
the JSON built in Python: ``GET /healthz``, ``/api/tags``, ``/api/articles?limit=&offset=`` and
``/api/articles/<slug>`` with the app's answers for an anonymous reader. No hooks, no ORM, no
validation. ``FLOOR_DATABASE_URL`` names the database (the app's URL form is accepted).

    hypercorn -c hypercorn.toml bench.floor:app
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import asyncpg
from quart import Quart, Response, abort, request

URL = os.environ.get("FLOOR_DATABASE_URL", "sqlite:///instance/conduit.db")
IS_SQLITE = URL.startswith("sqlite")
POOL_SIZE = int(os.environ.get("CONDUIT_POOL_SIZE", "5"))

TAGS_SQL = """
SELECT t.name FROM tags t JOIN article_tags at ON at.tag_id = t.id
GROUP BY t.id, t.name ORDER BY count(at.article_id) DESC, t.name
"""
# The article's tags as one value: an array on PostgreSQL, a JSON array on SQLite.
PG_TAGS = ("ARRAY(SELECT t.name FROM article_tags at JOIN tags t ON t.id = at.tag_id "
           "WHERE at.article_id = a.id ORDER BY t.name)")
SQLITE_TAGS = ("(SELECT json_group_array(name) FROM (SELECT t.name FROM article_tags at "
               "JOIN tags t ON t.id = at.tag_id WHERE at.article_id = a.id ORDER BY t.name))")
COLUMNS = """a.slug, a.title, a.description, {extra} a.created_at, a.updated_at,
u.username, u.bio, u.image,
(SELECT count(*) FROM favorites f WHERE f.article_id = a.id) AS favorites_count, {tags} AS tags"""


def _sql(extra: str, tail: str) -> str:
    columns = COLUMNS.format(extra=extra, tags=SQLITE_TAGS if IS_SQLITE else PG_TAGS)
    sql = f"SELECT {columns} FROM articles a JOIN users u ON u.id = a.author_id {tail}"
    if IS_SQLITE:
        return sql
    parts = sql.split("?")  # PostgreSQL numbers its parameters: $1, $2
    return "".join(part + (f"${i}" if i < len(parts) else "") for i, part in enumerate(parts, 1))


# The page and the count of everything in one statement (a window count).
LIST_SQL = _sql("count(*) OVER () AS total,", "ORDER BY a.created_at DESC, a.id DESC LIMIT ? OFFSET ?")
ONE_SQL = _sql("a.body,", "WHERE a.slug = ?")


def _stamp(value: Any) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _article(row: Any, body: bool) -> dict[str, Any]:
    tags = row["tags"]
    article = {
        "slug": row["slug"], "title": row["title"], "description": row["description"],
        "tagList": json.loads(tags) if isinstance(tags, str) else list(tags),
        "createdAt": _stamp(row["created_at"]), "updatedAt": _stamp(row["updated_at"]),
        "favorited": False, "favoritesCount": row["favorites_count"],
        "author": {"username": row["username"], "bio": row["bio"], "image": row["image"],
                   "following": False},
    }
    if body:
        article["body"] = row["body"]
    return article


class SqlitePool:
    """A fixed set of aiosqlite connections handed out one task at a time."""

    def __init__(self, path: str, size: int) -> None:
        self.path, self.size = path, size
        self.free: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            conn = await aiosqlite.connect(self.path)
            conn.row_factory = aiosqlite.Row
            await conn.execute("PRAGMA journal_mode=WAL")
            self.free.put_nowait(conn)

    async def close(self) -> None:
        while not self.free.empty():
            await self.free.get_nowait().close()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = await self.free.get()
        try:
            yield conn
        finally:
            self.free.put_nowait(conn)


app = Quart(__name__)
pool: Any = None


async def fetch(sql: str, *args: Any) -> list[Any]:
    if IS_SQLITE:
        async with pool.acquire() as conn, conn.execute(sql, args) as cursor:
            return list(await cursor.fetchall())
    async with pool.acquire() as conn:
        return list(await conn.fetch(sql, *args))


def _json(data: Any) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), content_type="application/json")


@app.before_serving
async def _open() -> None:
    global pool
    if IS_SQLITE:
        pool = SqlitePool(URL.split(":///", 1)[1], POOL_SIZE)
        await pool.open()
    else:
        dsn = URL.replace("postgresql+asyncpg://", "postgresql://")
        pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)


@app.after_serving
async def _close() -> None:
    await pool.close()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/tags")
async def tags() -> Response:
    return _json({"tags": [row[0] for row in await fetch(TAGS_SQL)]})


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name, default, type=int)
    return default if value is None else value


@app.get("/api/articles")
async def articles() -> Response:
    rows = await fetch(LIST_SQL, min(_int_arg("limit", 20), 100), _int_arg("offset", 0))
    total = rows[0]["total"] if rows else 0
    return _json({"articles": [_article(row, False) for row in rows], "articlesCount": total})


@app.get("/api/articles/<slug>")
async def article(slug: str) -> Response:
    rows = await fetch(ONE_SQL, slug)
    if not rows:
        abort(404)
    return _json({"article": _article(rows[0], True)})


