"""Live events: the numbered log of changes that app/live sends to subscribers.

The domain function that makes a change writes its event in the same transaction, so an event
exists for every committed change and for no rolled-back one. Event numbers (``seq``) follow
commit order, so a reader that has seen event N has seen every committed event before N:

- SQLite serialises writers (``BEGIN IMMEDIATE``): numbered in insert order is numbered in commit
  order.
- PostgreSQL numbers from a sequence, which does not follow commit order by itself; the writer
  takes a transaction-level advisory lock just before numbering and holds it to commit, so the
  next event's writer numbers only after this one committed. While it holds the lock it only
  reads and inserts into ``live_events``: it never waits for a row another writer holds. The same
  transaction sends NOTIFY, which PostgreSQL delivers at commit, to every worker's hub.

A payload is the event's JSON object without its type and number, which ``wire_text`` splices in.
Events carry objects in their RealWorld shape as a stranger sees them (``favorited`` and
``following`` false): a client knows its own favorites and follows.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.errors import NotFound
from app.domain.realworld_json import article_json, comment_json
from app.domain.records import ArticleRecord, CommentRecord
from app.domain.text import is_clean
from app.domain.transactions import dialect_of, read
from app.models import Article, Follow, LiveEvent, User

CHANNEL = "conduit_live"  # PostgreSQL's NOTIFY channel
LOCK_KEY = 0x636F6E64  # the advisory lock that orders event numbers ("cond")
WINDOW = 10_000  # events kept for clients that reconnect; older ones are pruned
PRUNE_EVERY = 256
TURN = "conduit.live_turn"  # session.info: the transaction that holds the numbering turn
COMMITTED = "conduit.live_seq"  # session.info: the last event numbered in this transaction
NOTIFY = "conduit.live_notify"  # session.info: False when Redis, not NOTIFY, is the doorbell


async def take_turn(session: AsyncSession) -> None:
    """Wait for this transaction's turn to number an event (PostgreSQL; SQLite's writers already
    take turns). Taken once per transaction; what is read after it sees every earlier event's
    transaction committed (a favorite count, for one)."""
    transaction = session.sync_session.get_transaction()
    if session.info.get(TURN) is transaction:
        return
    if dialect_of(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    session.info[TURN] = transaction


async def record(session: AsyncSession, kind: str, *, article_id: int, author_id: int | None,
                 payload: dict[str, Any]) -> int:
    """Write one event in the session's write transaction; its number."""
    await take_turn(session)
    seq: int | None = await session.scalar(
        insert(LiveEvent).values(kind=kind, article_id=article_id, author_id=author_id,
                                 payload=json.dumps(payload, separators=(",", ":")))
        .returning(LiveEvent.seq))
    assert seq is not None
    if dialect_of(session) == "postgresql" and session.info.get(NOTIFY, True):
        await session.execute(text("SELECT pg_notify(:channel, :seq)"),
                              {"channel": CHANNEL, "seq": str(seq)})
    if seq % PRUNE_EVERY == 0:
        await session.execute(delete(LiveEvent).where(LiveEvent.seq <= seq - WINDOW))
    session.info[COMMITTED] = seq  # app/live's after_commit hook wakes this worker's hub at once
    return seq


def wire_text(kind: str, seq: int, payload: str) -> str:
    """The event as sent: ``{"type": kind, "seq": seq, ...payload}``, without decoding the payload."""
    return f'{{"type":"{kind}","seq":{seq},{payload[1:]}'


def as_stranger(article: ArticleRecord) -> ArticleRecord:
    return replace(article, favorited=False, author=replace(article.author, following=False))


async def comment_added(session: AsyncSession, article_id: int, slug: str,
                        comment: CommentRecord) -> None:
    await record(session, "comment.created", article_id=article_id, author_id=None,
                 payload={"article": {"slug": slug}, "comment": comment_json(comment)})


async def comment_deleted(session: AsyncSession, article_id: int, slug: str, comment_id: int) -> None:
    await record(session, "comment.deleted", article_id=article_id, author_id=None,
                 payload={"article": {"slug": slug}, "comment": {"id": comment_id}})


async def favorites_changed(session: AsyncSession, kind: str, fan_id: int,
                            article: ArticleRecord) -> None:
    """``article`` was read after ``take_turn``: its count includes every earlier change."""
    fan = await session.scalar(select(User.username).where(User.id == fan_id))
    await record(session, kind, article_id=article.id, author_id=None,
                 payload={"article": article_json(as_stranger(article)), "by": {"username": fan}})


async def article_published(session: AsyncSession, author_id: int, article: ArticleRecord) -> None:
    await record(session, "article.created", article_id=article.id, author_id=author_id,
                 payload={"article": article_json(as_stranger(article))})


async def article_id_of(session: AsyncSession, slug: str) -> int:
    """The id a live subscription to the article at ``slug`` follows (NotFound)."""
    found = await read(session, select(Article.id).where(Article.slug == slug)) if is_clean(slug) else []
    if not found:
        raise NotFound("article")
    return int(found[0][0])


async def followed_ids(session: AsyncSession, user_id: int) -> frozenset[int]:
    """Whose new articles a "Your Feed" subscription is told of (as the socket opens)."""
    rows = await read(session, select(Follow.followee_id).where(Follow.follower_id == user_id))
    return frozenset(row[0] for row in rows)
