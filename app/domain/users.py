"""Accounts, profiles and follows."""

from __future__ import annotations

import enum
import re
from typing import Any

from sqlalchemy import bindparam, delete, exists, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import counters
from app.domain.errors import Conflict, Forbidden, Invalid, InvalidCredentials, NotFound, check_all
from app.domain.limits import (
    BIO_MAX,
    BLANK,
    EMAIL_MAX,
    IMAGE_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    USERNAME_MAX,
    too_long,
    too_short,
)
from app.domain.passwords import hash_password, verify_password
from app.domain.records import Account, Profile
from app.domain.sessions import ACCOUNT_COLUMNS, end_sessions
from app.domain.text import clean_text, is_clean
from app.domain.transactions import end_reading, insert_ignore, read, writing
from app.models import Follow, User

# ASCII only: SQLite's lower() folds ASCII alone, and the unique index is on lower(username).
USERNAME_RE = re.compile(rf"^(?=.*[A-Za-z0-9])[A-Za-z0-9_.-]{{1,{USERNAME_MAX}}}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A picture inline (the spec takes any string; front ends set these): only raster images in base64,
# which a browser shows and never runs. No SVG (it can carry script), no javascript:, no HTML.
INLINE_IMAGE_RE = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}",
                             re.IGNORECASE)


class _Unset(enum.Enum):
    UNSET = 0


UNSET = _Unset.UNSET
"""Marks a field a partial update leaves untouched (None means "clear it")."""


def account_of(user: User) -> Account:
    return Account(
        id=user.id,
        username=user.username,
        email=user.email,
        bio=user.bio,
        image=user.image,
        is_admin=user.is_admin,
        created_at=user.created_at,
        token_epoch=user.token_epoch,
        kept_token=user.kept_token,
    )


def profile_of(user: User, following: bool) -> Profile:
    return Profile(username=user.username, bio=user.bio, image=user.image, following=following)


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def clean_username(value: str | None) -> str:
    if _blank(value):
        raise Invalid({"username": [BLANK]})
    assert value is not None
    value = value.strip()
    if not USERNAME_RE.match(value):
        raise Invalid({"username": [f"must be 1 to {USERNAME_MAX} letters, digits, '.', '_' or '-' "
                                    "(with at least one letter or digit)"]})
    return value


def clean_email(value: str | None) -> str:
    if _blank(value):
        raise Invalid({"email": [BLANK]})
    assert value is not None
    value = clean_text("email", value.strip().lower())
    if len(value) > EMAIL_MAX:
        raise Invalid({"email": [too_long(EMAIL_MAX)]})
    if not EMAIL_RE.match(value):
        raise Invalid({"email": ["is invalid"]})
    return value


def clean_password(value: str | None) -> str:
    if value is None or value == "":
        raise Invalid({"password": [BLANK]})
    clean_text("password", value)
    if len(value) < PASSWORD_MIN:
        raise Invalid({"password": [too_short(PASSWORD_MIN)]})
    if len(value) > PASSWORD_MAX:
        raise Invalid({"password": [too_long(PASSWORD_MAX)]})
    return value


def _optional_text(field: str, value: str | None, limit: int) -> str | None:
    """Empty means "none": an empty bio or image is stored as null. The limit counts what was
    sent (white space included), as the API documents it."""
    if value is not None and len(value) > limit:
        raise Invalid({field: [too_long(limit)]})
    if value is None or not value.strip():
        return None
    if field == "image":
        value = value.strip()
    clean_text(field, value)
    if field == "image" and not (value.lower().startswith(("https://", "http://"))
                                 or INLINE_IMAGE_RE.fullmatch(value)):
        raise Invalid({"image": ["must be an http:// or https:// address, or a data:image/png, "
                                 "jpeg, gif or webp URL in base64"]})
    return value


async def _user_by_username(session: AsyncSession, username: str) -> User | None:
    if not USERNAME_RE.match(username):
        return None  # no such user can exist; and NUL or surrogates never reach the database
    found: User | None = await session.scalar(
        select(User).where(func.lower(User.username) == username.lower())
    )
    return found


async def _taken(session: AsyncSession, username: str | None, email: str | None,
                 except_id: int | None = None) -> list[str]:
    taken = []
    if username is not None:
        clash = await _user_by_username(session, username)
        if clash is not None and clash.id != except_id:
            taken.append("username")
    if email is not None:
        clash_id = await session.scalar(select(User.id).where(User.email == email))
        if clash_id is not None and clash_id != except_id:
            taken.append("email")
    return taken


async def _conflict(session: AsyncSession, username: str | None, email: str | None,
                    except_id: int | None = None) -> Conflict:
    """A unique violation from a concurrent writer, as the Conflict it is (which value is taken)."""
    # Whatever clashed may be gone again by now: the username is the only other unique value.
    return Conflict(*(await _taken(session, username, email, except_id) or ["username"]))


async def _add_user(session: AsyncSession, **fields: Any) -> Account:
    try:
        async with writing(session):
            user = User(**fields)
            session.add(user)
            await session.flush()
            await counters.bump_site(session, "users", 1)
    except IntegrityError:
        raise await _conflict(session, fields["username"], fields["email"]) from None
    return account_of(user)


async def create_user(session: AsyncSession, *, username: str, email: str, password_hash: str,
                      bio: str | None = None, image: str | None = None,
                      is_admin: bool = False) -> Account:
    """Add a user whose password is already hashed (seeding, admin tools)."""
    return await _add_user(session, username=clean_username(username), email=clean_email(email),
                           password_hash=password_hash, bio=_optional_text("bio", bio, BIO_MAX),
                           image=_optional_text("image", image, IMAGE_MAX), is_admin=is_admin)


async def register(session: AsyncSession, *, username: str | None, email: str | None,
                   password: str | None) -> Account:
    username, email, password = check_all(lambda: clean_username(username),
                                          lambda: clean_email(email),
                                          lambda: clean_password(password))
    taken = await _taken(session, username, email)
    if taken:  # checked before hashing, so a taken name costs no CPU (a race is caught on insert)
        raise Conflict(*taken)
    await end_reading(session)
    return await _add_user(session, username=username, email=email,
                           password_hash=await hash_password(password))


async def authenticate(session: AsyncSession, *, email: str | None, password: str | None) -> Account:
    blank = {}
    if _blank(email):
        blank["email"] = [BLANK]
    if not password:  # spaces may be a password; only nothing is blank
        blank["password"] = [BLANK]
    if blank:
        raise Invalid(blank)
    assert email is not None and password is not None
    if not is_clean(email) or not is_clean(password):
        raise InvalidCredentials()
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    account, password_hash = (account_of(user), user.password_hash) if user else (None, None)
    await end_reading(session)
    if not await verify_password(password_hash, password) or account is None:
        raise InvalidCredentials()
    return account


# Every request of a signed-in user runs it: built once, run with a parameter.
ACCOUNT_BY_ID = select(*ACCOUNT_COLUMNS).where(User.__table__.c.id == bindparam("user_id"))


async def get_account(session: AsyncSession, user_id: int) -> Account | None:
    rows = await read(session, ACCOUNT_BY_ID, {"user_id": user_id})
    return Account(*rows[0]) if rows else None


async def update_account(
    session: AsyncSession,
    user_id: int,
    *,
    username: str | _Unset | None = UNSET,
    email: str | _Unset | None = UNSET,
    password: str | _Unset | None = UNSET,
    bio: str | _Unset | None = UNSET,
    image: str | _Unset | None = UNSET,
    keep_session: str | None = None,
    keep_token: str | None = None,
) -> Account:
    """Partial update: UNSET fields stay (at least one must be given); None or "" clears bio and
    image. A new password signs the user out everywhere else: every site session but
    ``keep_session`` ends and every API token but ``keep_token`` (the fingerprint of the one that
    made the change) is revoked (the account's new ``token_epoch``)."""
    if all(value is UNSET for value in (username, email, password, bio, image)):
        raise Invalid({"user": ["must include at least one field to change"]})
    new_password = None if password is UNSET else clean_password(password)
    new_username = None if username is UNSET else clean_username(username)
    new_email = None if email is UNSET else clean_email(email)
    new_bio = UNSET if bio is UNSET else _optional_text("bio", bio, BIO_MAX)
    new_image = UNSET if image is UNSET else _optional_text("image", image, IMAGE_MAX)
    taken = await _taken(session, new_username, new_email, except_id=user_id)
    if taken:
        raise Conflict(*taken)
    await end_reading(session)
    # Hashed before the write transaction starts, so no lock is held during the slow hash.
    new_hash = None if new_password is None else await hash_password(new_password)
    try:
        async with writing(session):
            user = await session.get(User, user_id)
            if user is None:
                raise NotFound("user")
            if new_username is not None:
                user.username = new_username
            if new_email is not None:
                user.email = new_email
            if new_hash is not None:
                user.password_hash = new_hash
                user.token_epoch += 1
                user.kept_token = keep_token
                await end_sessions(session, user_id, keep=keep_session)
            if new_bio is not UNSET:
                user.bio = new_bio
            if new_image is not UNSET:
                user.image = new_image
            await session.flush()
    except IntegrityError:
        raise await _conflict(session, new_username, new_email, except_id=user_id) from None
    return account_of(user)


async def set_admin(session: AsyncSession, username: str, is_admin: bool) -> Account:
    user = await _user_by_username(session, username)
    if user is None:
        raise NotFound("profile")
    async with writing(session):
        user.is_admin = is_admin
    return account_of(user)


async def get_profile(session: AsyncSession, username: str, viewer_id: int | None = None) -> Profile:
    """A user as ``viewer_id`` sees them, in one statement."""
    if not USERNAME_RE.match(username):
        raise NotFound("profile")
    following = exists().where(Follow.follower_id == viewer_id, Follow.followee_id == User.id) \
        if viewer_id is not None else false()
    rows = await read(session, select(User.username, User.bio, User.image, following)
                      .where(func.lower(User.username) == username.lower()))
    if not rows:
        raise NotFound("profile")
    username_, bio, image, follows = rows[0]
    return Profile(username=username_, bio=bio, image=image, following=bool(follows))


async def follow(session: AsyncSession, viewer_id: int, username: str) -> Profile:
    user = await _user_by_username(session, username)
    if user is None:
        raise NotFound("profile")
    if user.id == viewer_id:
        raise Forbidden("profile", "cannot follow yourself")
    async with writing(session):
        await insert_ignore(session, Follow, follower_id=viewer_id, followee_id=user.id)
    return profile_of(user, True)


async def unfollow(session: AsyncSession, viewer_id: int, username: str) -> Profile:
    user = await _user_by_username(session, username)
    if user is None:
        raise NotFound("profile")
    async with writing(session):
        await session.execute(
            delete(Follow).where(Follow.follower_id == viewer_id, Follow.followee_id == user.id))
    return profile_of(user, False)
