"""A bulk seeder for benchmarks at scale (``quart --app app seed --scale N``, ``bench/scale.py``).

Every table is filled by a few ``INSERT ... SELECT`` statements over generated rows (PostgreSQL's
``generate_series``, a recursive CTE on SQLite), one large transaction per table (PostgreSQL:
``synchronous_commit = off``): 1M articles take minutes, where one statement per row would take
hours. Only the base tables are written; the counters and the copied columns are then derived by
``app.domain.counters.recount`` (unless ``derive=False``, which also works on a database at
revision 0005, before those columns existed).

The shapes are fixed by ``Shape.for_articles(n)`` so that they stay the same across sizes where a
benchmark compares them: a tag on a fifth of all articles ("popular"), an author of 5% of them
("prolific"), a reader who follows 5,000 users and favorites 200 articles spread over time
("reader"), an article with 5,000 favorites and 5,000 comments ("hot-article"). Every row is a
function of its number: the same shape always gives the same rows. Every password is
``conduit-demo``; user 1 is "prolific", user 2 "reader", the others ``user<id>``, all with
e-mail ``<username>@scale.test``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.commands.demo_data import DEMO_PASSWORD, LINES, TOPICS, VERBS
from app.domain.counters import recount
from app.domain.passwords import hash_password_sync
from app.domain.transactions import WRITE_OPTION

PROLIFIC, READER = 1, 2  # user ids; every other user is "user<id>"
POPULAR = 1  # tag id; every other tag is "topic-<id>"
@dataclass(frozen=True)
class Shape:
    articles: int
    users: int
    tags: int
    reader_follows: int
    hot_favorites: int
    hot_comments: int
    reader_favorites: int = 200
    follows_per_user: int = 10
    favorites_per_article: int = 2
    popular_every: int = 5  # the popular tag on every 5th article: a fifth of them
    prolific_every: int = 20  # prolific wrote every 20th: 5%
    step_seconds: int = 3  # between two articles' creation times

    @classmethod
    def for_articles(cls, n: int) -> Shape:
        if n < 10:
            raise ValueError("a scale seed needs at least 10 articles")
        users = max(n // 10, 6000)
        return cls(articles=n, users=users, tags=max(50, min(5000, n // 2)),
                   reader_follows=min(5000, users - 2), hot_favorites=min(5000, users - 2),
                   hot_comments=5000)

    @property
    def hot(self) -> int:
        """The id of "hot-article": the newest article."""
        return self.articles

    @property
    def others(self) -> int:
        """Users other than prolific and reader (ids 3 .. users)."""
        return self.users - 2


Progress = Callable[[str], None]


class Seeder:
    def __init__(self, dialect: str, shape: Shape, now: int) -> None:
        self.pg = dialect == "postgresql"
        self.shape = shape
        # Every stamp is in the past: the newest article a day ago, its comments after it.
        self.base = now - 86_400

    def series(self, n: int, name: str = "s") -> str:
        if self.pg:
            return f"{name}(i) AS (SELECT generate_series(1, {n}))"
        return f"{name}(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM {name} WHERE i < {n})"

    def at(self, seconds: str) -> str:
        """The UTC instant ``seconds`` (an SQL expression) after 1970, as each backend stores it."""
        if self.pg:
            return f"to_timestamp(CAST({seconds} AS double precision))"
        return f"(strftime('%Y-%m-%d %H:%M:%S', {seconds}, 'unixepoch') || '.000000')"

    def article_at(self, i: str) -> str:
        return f"({self.base} - ({self.shape.articles} - {i}) * {self.shape.step_seconds})"

    @staticmethod
    def values(name: str, rows: tuple[str, ...]) -> str:
        listed = ", ".join(f"({k}, '{row.replace(chr(39), chr(39) * 2)}')" for k, row in enumerate(rows))
        return f"{name}(k, v) AS (VALUES {listed})"

    def statements(self) -> list[tuple[str, str]]:
        """(table, statement) in the order of the foreign keys."""
        sh, o = self.shape, self.shape.others
        first = self.base - sh.articles * sh.step_seconds - 86_400
        slugs = tuple(t.lower().replace(" ", "-") for t in TOPICS)
        words = (f"{self.values('topics', TOPICS)}, {self.values('slugs', slugs)}, "
                 f"{self.values('verbs', VERBS)}, {self.values('lines', LINES)}")
        a_at = self.article_at("i")
        nl = "\n"
        body = (f"'## Why ' || t.v || ' matter' || '{nl}{nl}' || l1.v || ' ' || l2.v || '{nl}{nl}"
                f"- ' || l3.v || '{nl}- ' || l2.v || '{nl}{nl}```python{nl}"
                f"async def handler():{nl}    return await ' || s2.v || '(){nl}```{nl}'")
        return [
            ("users", f"INSERT INTO users (id, username, email, password_hash, bio, image, created_at,"
             f" updated_at) WITH RECURSIVE {self.series(sh.users)}, {words} "
             f"SELECT i, CASE i WHEN {PROLIFIC} THEN 'prolific' WHEN {READER} THEN 'reader' "
             f"ELSE 'user' || i END, CASE i WHEN {PROLIFIC} THEN 'prolific' WHEN {READER} "
             f"THEN 'reader' ELSE 'user' || i END || '@scale.test', :hash, "
             f"'Writes about ' || t.v || '.', NULL, {self.at(str(first))}, {self.at(str(first))} "
             f"FROM s JOIN topics t ON t.k = i % {len(TOPICS)} WHERE true"),
            ("tags", f"INSERT INTO tags (id, name) WITH RECURSIVE {self.series(sh.tags)} "
             f"SELECT i, CASE i WHEN {POPULAR} THEN 'popular' ELSE 'topic-' || i END FROM s WHERE true"),
            ("articles", f"INSERT INTO articles (id, slug, title, description, body, author_id, "
             f"created_at, updated_at) WITH RECURSIVE {self.series(sh.articles)}, {words} "
             f"SELECT i, CASE i WHEN {sh.hot} THEN 'hot-article' ELSE lower(replace(v.v, ' ', '-'))"
             f" || '-' || s2.v || '-' || i END, CASE i WHEN {sh.hot} THEN 'The hot article' "
             f"ELSE v.v || ' ' || t.v || ', no. ' || i END, l1.v, {body}, "
             f"CASE WHEN i % {sh.prolific_every} = 7 THEN {PROLIFIC} ELSE 3 + i % {o} END, "
             f"{self.at(a_at)}, {self.at(a_at)} "
             f"FROM s JOIN topics t ON t.k = i % {len(TOPICS)} JOIN slugs s2 ON s2.k = t.k "
             f"JOIN verbs v ON v.k = (i / {len(TOPICS)}) % {len(VERBS)} "
             f"JOIN lines l1 ON l1.k = i % 16 JOIN lines l2 ON l2.k = (i * 7 + 3) % 16 "
             f"JOIN lines l3 ON l3.k = (i * 11 + 5) % 16 WHERE true"),
            # Three tags each: the popular one first on every 5th, the others spread evenly (a
            # stride prime to the number of tags reaches every one of them).
            ("article_tags", f"INSERT INTO article_tags (article_id, tag_id) WITH RECURSIVE "
             f"{self.series(sh.articles)} SELECT i, CASE WHEN i % {sh.popular_every} = 0 AND "
             f"j.k = 0 THEN {POPULAR} ELSE 2 + (i * {self.stride(sh.tags - 1)} + j.k) % "
             f"{sh.tags - 1} END "
             f"FROM s CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) j WHERE true"),
            ("favorites", self.favorites()),
            ("follows", self.follows()),
            ("comments", f"INSERT INTO comments (id, body, article_id, author_id, created_at, "
             f"updated_at) WITH RECURSIVE {self.series(sh.articles - 1 + sh.hot_comments)}, {words} "
             f"SELECT i, l1.v, CASE WHEN i < {sh.hot} THEN i ELSE {sh.hot} END, "
             f"3 + (i * 11) % {o}, {self.at(self.comment_at())}, {self.at(self.comment_at())} "
             f"FROM s JOIN lines l1 ON l1.k = (i * 5 + 1) % 16 WHERE true"),
        ]

    @staticmethod
    def stride(n: int) -> int:
        return next(p for p in (37, 41, 43, 47, 53) if math.gcd(p, n) == 1)

    def comment_at(self) -> str:
        """A second after its article; the hot article's 10 s apart after it."""
        sh = self.shape
        return (f"(CASE WHEN i < {sh.hot} THEN {self.article_at('i')} + 1 "
                f"ELSE {self.base} + (i - {sh.hot - 1}) * 10 END)")

    def favorites(self) -> str:
        sh, o = self.shape, self.shape.others
        every = max(1, (sh.articles - 1) // sh.reader_favorites)
        reader = min(sh.reader_favorites, (sh.articles - 1) // every)
        # Rows numbered: 2 per ordinary article, then the reader's, then the hot article's fans.
        plain = (sh.articles - 1) * sh.favorites_per_article
        per = sh.favorites_per_article
        user = (f"CASE WHEN i <= {plain} THEN 3 + ((i - 1) / {per} * 13 + ((i - 1) % {per}) * 7717)"
                f" % {o} WHEN i <= {plain + reader} THEN {READER} ELSE 3 + i - {plain + reader + 1} END")
        article = (f"CASE WHEN i <= {plain} THEN (i - 1) / {per} + 1 WHEN i <= {plain + reader} "
                   f"THEN (i - {plain}) * {every} ELSE {sh.hot} END")
        return (f"INSERT INTO favorites (user_id, article_id, created_at) WITH RECURSIVE "
                f"{self.series(plain + reader + sh.hot_favorites)}, f(u, a) AS (SELECT {user}, "
                f"{article} FROM s) SELECT u, a, {self.at(self.article_at('a') + ' + 60')} FROM f "
                f"WHERE true ON CONFLICT DO NOTHING")

    def follows(self) -> str:
        sh = self.shape
        n = sh.follows_per_user
        # Rows numbered: the reader's first, then ~10 for every other user (no self-follow).
        rows = sh.reader_follows + sh.users * n
        pair = (f"CASE WHEN i <= {sh.reader_follows} THEN {READER} ELSE (i - {sh.reader_follows} - 1)"
                f" / {n} + 1 END AS a, CASE WHEN i <= {sh.reader_follows} THEN 2 + i ELSE "
                f"1 + (((i - {sh.reader_follows} - 1) / {n}) * 31 + ((i - 1) % {n}) * 1009) % "
                f"{sh.users} END AS b")
        return (f"INSERT INTO follows (follower_id, followee_id, created_at) WITH RECURSIVE "
                f"{self.series(rows)}, p(i, a, b) AS (SELECT i, {pair} FROM s) "
                f"SELECT a, b, {self.at(str(self.base))} FROM p WHERE a <> b AND "
                f"(a <> {READER} OR i <= {sh.reader_follows}) ON CONFLICT DO NOTHING")


async def _begin(conn: AsyncConnection) -> AsyncConnection:
    if conn.dialect.name == "sqlite":
        return await conn.execution_options(**{WRITE_OPTION: True})
    return await conn.execution_options(isolation_level="READ COMMITTED")


async def is_empty(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return not (await conn.execute(text("SELECT count(*) FROM users"))).scalar()


async def seed_scale(engine: AsyncEngine, shape: Shape, *, derive: bool = True,
                     progress: Progress | None = None) -> dict[str, int]:
    """Fill an empty database (at migration head, or at 0005 with ``derive=False``) with
    ``shape``; the rows written, by table."""
    if not await is_empty(engine):
        raise RuntimeError("the database already has users; a scale seed needs an empty one")
    say = progress or (lambda _line: None)
    seeder = Seeder(engine.dialect.name, shape, int(time.time()))
    params: dict[str, Any] = {"hash": hash_password_sync(DEMO_PASSWORD)}
    counts: dict[str, int] = {}
    for table, statement in seeder.statements():
        started = time.monotonic()
        async with engine.connect() as raw:
            conn = await _begin(raw)
            async with conn.begin():
                if seeder.pg:
                    await conn.execute(text("SET LOCAL synchronous_commit = off"))
                else:
                    await conn.execute(text("PRAGMA cache_size = -262144"))  # 256 MB for this one
                result = await conn.execute(text(statement), params)
                counts[table] = int(result.rowcount)
        say(f"{table}: {counts[table]} rows in {time.monotonic() - started:.1f} s")
    async with engine.connect() as raw:
        conn = await _begin(raw)
        async with conn.begin():
            for table in ("users", "tags", "articles", "comments") if seeder.pg else ():
                # Ids were given explicitly: the sequences must go on after them.
                await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT max(id) FROM {table}))"))
    if derive:
        started = time.monotonic()
        await recount(engine, progress=progress)
        say(f"recount in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    async with engine.connect() as raw:
        conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
        if seeder.pg:
            await conn.execute(text("VACUUM ANALYZE"))
        else:
            await conn.execute(text("ANALYZE"))
            await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    say(f"{'VACUUM ANALYZE' if seeder.pg else 'ANALYZE'} in {time.monotonic() - started:.1f} s")
    return counts
