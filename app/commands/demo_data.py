"""Deterministic demo data: the same seed and sizes always give the same rows.

Rows are written directly (not through the domain's write functions) so that timestamps and
slugs are fixed by the seed rather than by the clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.articles import slugify
from app.domain.counters import recount
from app.domain.passwords import hash_password
from app.domain.transactions import writing
from app.models import Article, Comment, Favorite, Follow, Tag, User

DEMO_PASSWORD = "conduit-demo"
EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NAMES = ["alice", "bruno", "chen", "dara", "emeka", "fatima", "goran", "hana", "ivan", "jun",
         "kofi", "lena", "mateo", "nadia", "omar", "priya", "quinn", "rosa", "sven", "tariq"]
TAGS = ["python", "asyncio", "quart", "flask", "sqlalchemy", "postgres", "sqlite", "testing",
        "performance", "web", "http", "design"]
TOPICS = ("event loops", "context variables", "connection pools", "async views", "migrations",
          "load testing", "template inheritance", "cookie sessions", "blueprints", "ORM queries",
          "background tasks", "graceful shutdown", "request contexts", "CSRF tokens")
VERBS = ("Understanding", "Taming", "A field guide to", "Benchmarking", "Debugging", "Rethinking",
         "Notes on", "Five lessons from")
# Real sentences, so the demo blog reads like one (also the bulk data's: app/commands/bulk_data.py).
LINES = (
    "An event loop runs one task at a time and switches only where a task awaits.",
    "A pool of connections bounds how many requests talk to the database at once.",
    "Every request gets its own context, copied per task, so g never leaks.",
    "The index carries the order of the list, so a page is one short walk.",
    "A counter kept in the writer's transaction costs one row update, not a scan.",
    "Templates inherit from one base page and fill in the blocks they own.",
    "A migration that backfills in batches keeps every lock short.",
    "Measure the CPU time per request: it is steadier than throughput here.",
    "Cursors name where a page ends; offsets walk everything before them.",
    "A background task sees an empty g unless the context is copied on purpose.",
    "Hash passwords off the loop, or every request waits for the hash.",
    "Sessions live in a signed cookie that names a row on the server.",
    "A slow query shows itself in EXPLAIN long before it shows in production.",
    "Graceful shutdown lets the requests in flight finish and refuses new ones.",
    "Rate limits keyed by address need a key of their own behind a proxy.",
    "WAL mode lets readers go on while one writer holds the lock.",
)
DESCRIPTIONS = (
    "What I wish I had known before moving a Flask app to async.",
    "A short tour, with the mistakes I made on the way.",
    "Measured on a small machine, with the numbers to show for it.",
    "The idea in one page, then the code that proves it.",
    "Why it matters more under load than on your laptop.",
    "A checklist for the next time this bites.",
)
COMMENTS = (
    "This cleared up something I had been confused about for weeks.",
    "Great write-up. Did you measure it on PostgreSQL too?",
    "I tried this on our service and p99 dropped by half.",
    "Nice. The part about contexts deserves a post of its own.",
    "Bookmarked. The code sample alone was worth it.",
    "How does this behave with several workers behind a proxy?",
    "Thanks for writing this down so plainly.",
    "We hit exactly this bug last month; wish I had read this first.",
)
TIPS = (
    "Await the slow thing, never block on it.",
    "Keep the transaction short.",
    "Measure before you change anything.",
    "Copy the context when you spawn a task.",
    "Give every wait a deadline.",
)


@dataclass(frozen=True)
class SeedReport:
    users: int
    articles: int
    comments: int
    favorites: int
    follows: int


def _markdown(rng: random.Random, topic: str) -> str:
    paragraphs = [" ".join(rng.sample(LINES, 3)) for _ in range(3)]
    items = "\n".join(f"- {tip}" for tip in rng.sample(TIPS, 3))
    return (f"## {topic[0].upper() + topic[1:]}, in practice\n\n{paragraphs[0]}\n\n{items}\n\n"
            "```python\nasync def article(slug):\n    return await db.get(Article, slug)\n```\n\n"
            f"{paragraphs[1]} The rule of thumb: *measure first*, then **change one thing**.\n\n"
            f"{paragraphs[2]}\n")


async def database_is_empty(session: AsyncSession) -> bool:
    return not await session.scalar(select(func.count(User.id)))


async def seed(session: AsyncSession, *, users: int = 12, articles: int = 40,
               comments: int = 3, seed_value: int = 42) -> SeedReport:
    """Write demo data in one transaction. Every user's password is ``DEMO_PASSWORD``."""
    rng = random.Random(seed_value)
    password_hash = await hash_password(DEMO_PASSWORD)  # one hash shared: demo data only
    async with writing(session):
        report = await _write(session, rng, password_hash, users, articles, comments)
    await recount(session.bind)  # type: ignore[arg-type]  # rows written directly: count them
    return report


async def _write(session: AsyncSession, rng: random.Random, password_hash: str, users: int,
                 articles: int, comments: int) -> SeedReport:
    people = []
    for i in range(users):
        name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else str(i // len(NAMES)))
        people.append(User(username=name, email=f"{name}@conduit.test",
                           password_hash=password_hash, bio=f"{name.title()} writes about "
                           f"{rng.choice(TOPICS)}.", image=None,
                           created_at=EPOCH, updated_at=EPOCH))
    session.add_all(people)
    tags = [Tag(name=name) for name in TAGS]
    session.add_all(tags)
    await session.flush()

    posts, notes, fans, follows = [], 0, 0, 0
    for i in range(articles):
        topic = TOPICS[i % len(TOPICS)]
        title = f"{VERBS[(i // len(TOPICS)) % len(VERBS)]} {topic}"
        if i >= len(TOPICS) * len(VERBS):
            title += f", part {i // (len(TOPICS) * len(VERBS)) + 1}"
        when = EPOCH + timedelta(hours=6 * i, minutes=rng.randint(0, 59))
        post = Article(slug=slugify(title), title=title, description=rng.choice(DESCRIPTIONS),
                       body=_markdown(rng, topic), author=rng.choice(people),
                       tags=sorted(rng.sample(tags, rng.randint(1, 3)), key=lambda t: t.name),
                       created_at=when, updated_at=when)
        posts.append(post)
        for j in range(rng.randint(0, comments)):
            stamp = when + timedelta(hours=j + 1)
            session.add(Comment(body=rng.choice(COMMENTS), article=post,
                                author=rng.choice(people), created_at=stamp, updated_at=stamp))
            notes += 1
    session.add_all(posts)
    await session.flush()
    for person in people:
        for post in rng.sample(posts, min(len(posts), rng.randint(0, 6))):
            session.add(Favorite(user_id=person.id, article_id=post.id, created_at=EPOCH))
            fans += 1
        for other in rng.sample(people, min(len(people), rng.randint(0, 4))):
            if other is not person:
                session.add(Follow(follower_id=person.id, followee_id=other.id,
                                   created_at=EPOCH))
                follows += 1
    return SeedReport(users=users, articles=articles, comments=notes, favorites=fans,
                      follows=follows)
