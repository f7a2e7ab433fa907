"""Signed-in browsers (site sessions) and the revocation of API tokens.

The session cookie holds only a random session id; the row it names holds the user. Signing out
deletes the row, so a copy of the cookie taken before is worth nothing after. API tokens stay
stateless JWTs carrying the account's ``token_epoch``; moving the epoch on revokes them all, and
checking it costs nothing extra (the account is read on every request anyway).
"""

from __future__ import annotations

import secrets

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.records import Account
from app.domain.transactions import insert_ignore, read, writing
from app.models import SiteSession, User, utcnow

SESSIONS: Table = SiteSession.__table__  # type: ignore[assignment]
USERS: Table = User.__table__  # type: ignore[assignment]
SESSION_ID_MAX = 64
# What an Account record holds, in its order: the users module and the admin's list read it too.
ACCOUNT_COLUMNS = (USERS.c.id, USERS.c.username, USERS.c.email, USERS.c.bio, USERS.c.image,
                   USERS.c.is_admin, USERS.c.created_at, USERS.c.token_epoch, USERS.c.kept_token)
ACCOUNT_BY_SESSION = (
    select(*ACCOUNT_COLUMNS)
    .join_from(SESSIONS, USERS, USERS.c.id == SESSIONS.c.user_id)
    .where(SESSIONS.c.id == bindparam("session_id"))
)


async def start_session(session: AsyncSession, user_id: int) -> str:
    """A new signed-in browser for ``user_id``: its id, for the cookie."""
    session_id = secrets.token_urlsafe(32)
    async with writing(session):
        await insert_ignore(session, SiteSession, id=session_id, user_id=user_id, created_at=utcnow())
    return session_id


async def account_for_session(session: AsyncSession, session_id: str) -> Account | None:
    """Who is signed in with this session id (None: signed out, or never signed in)."""
    if not isinstance(session_id, str) or not session_id.isascii() or len(session_id) > SESSION_ID_MAX:
        return None
    rows = await read(session, ACCOUNT_BY_SESSION, {"session_id": session_id})
    return Account(*rows[0]) if rows else None


async def end_session(session: AsyncSession, session_id: str) -> None:
    async with writing(session):
        await session.execute(delete(SiteSession).where(SiteSession.id == session_id))


async def end_sessions(session: AsyncSession, user_id: int, *, keep: str | None = None) -> None:
    """End every site session of ``user_id`` but ``keep``; inside the caller's write."""
    doomed = delete(SiteSession).where(SiteSession.user_id == user_id)
    await session.execute(doomed.where(SiteSession.id != keep) if keep else doomed)


async def sign_out_everywhere(session: AsyncSession, user_id: int) -> None:
    """Every site session ends and every API token issued so far is refused."""
    async with writing(session):
        await end_sessions(session, user_id)
        await session.execute(update(User).where(User.id == user_id)
                              .values(token_epoch=User.token_epoch + 1, kept_token=None))
