"""Accounts, profiles and follows."""

from __future__ import annotations

import enum
import re

from sqlalchemy import delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain._sql import insert_ignore
from app.domain.errors import Conflict, Invalid, InvalidCredentials, NotFound, check_all
from app.domain.passwords import hash_password, verify_password
from app.domain.text import clean_text, is_clean
from app.domain.views import Account, Profile
from app.models import Follow, User

# ASCII only: SQLite's lower() folds ASCII alone, and the unique index is on lower(username).
USERNAME_RE = re.compile(r"^(?=.*[A-Za-z0-9])[A-Za-z0-9_.-]{1,64}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PASSWORD_MIN, PASSWORD_MAX = 8, 256
BIO_MAX, IMAGE_MAX, EMAIL_MAX = 10_000, 1024, 254


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
    )


def profile_of(user: User, following: bool) -> Profile:
    return Profile(username=user.username, bio=user.bio, image=user.image, following=following)


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def clean_username(value: str | None) -> str:
    if _blank(value):
        raise Invalid({"username": ["can't be blank"]})
    assert value is not None
    value = value.strip()
    if not USERNAME_RE.match(value):
        raise Invalid({"username": ["must be 1 to 64 letters, digits, '.', '_' or '-' "
                                    "(with at least one letter or digit)"]})
    return value


def clean_email(value: str | None) -> str:
    if _blank(value):
        raise Invalid({"email": ["can't be blank"]})
    assert value is not None
    value = clean_text("email", value.strip().lower())
    if len(value) > EMAIL_MAX:
        raise Invalid({"email": [f"is too long (maximum is {EMAIL_MAX} characters)"]})
    if not EMAIL_RE.match(value):
        raise Invalid({"email": ["is invalid"]})
    return value


def clean_password(value: str | None) -> str:
    if value is None or value == "":
        raise Invalid({"password": ["can't be blank"]})
    clean_text("password", value)
    if len(value) < PASSWORD_MIN:
        raise Invalid({"password": [f"is too short (minimum is {PASSWORD_MIN} characters)"]})
    if len(value) > PASSWORD_MAX:
        raise Invalid({"password": [f"is too long (maximum is {PASSWORD_MAX} characters)"]})
    return value


def _optional_text(field: str, value: str | None, limit: int) -> str | None:
    """Empty means "none": an empty bio or image is stored as null."""
    if value is None or not value.strip():
        return None
    if field == "image":
        value = value.strip()
    if len(value) > limit:
        raise Invalid({field: [f"is too long (maximum is {limit} characters)"]})
    clean_text(field, value)
    if field == "image" and not value.lower().startswith(("https://", "http://")):
        raise Invalid({"image": ["must be an http:// or https:// address"]})
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


async def _commit_unique(session: AsyncSession, username: str | None, email: str | None,
                         except_id: int | None = None) -> None:
    """Commit; a unique violation from a concurrent writer becomes a Conflict, not a 500."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(*(await _taken(session, username, email, except_id) or ["username"])) from None


async def _end_read(session: AsyncSession) -> None:
    """End the (read-only) transaction before slow CPU work, so SQLite's write lock is free."""
    await session.rollback()


async def create_user(session: AsyncSession, *, username: str, email: str, password_hash: str,
                      bio: str | None = None, image: str | None = None,
                      is_admin: bool = False) -> Account:
    """Add a user whose password is already hashed (seeding, admin tools). Commits."""
    username, email = clean_username(username), clean_email(email)
    taken = await _taken(session, username, email)
    if taken:
        raise Conflict(*taken)
    user = User(username=username, email=email, password_hash=password_hash,
                bio=_optional_text("bio", bio, BIO_MAX),
                image=_optional_text("image", image, IMAGE_MAX), is_admin=is_admin)
    session.add(user)
    await _commit_unique(session, username, email)
    return account_of(user)


async def register(session: AsyncSession, *, username: str | None, email: str | None,
                   password: str | None) -> Account:
    username, email, password = check_all(lambda: clean_username(username),
                                          lambda: clean_email(email),
                                          lambda: clean_password(password))
    taken = await _taken(session, username, email)
    if taken:  # checked before hashing, so a taken name costs no CPU
        raise Conflict(*taken)
    await _end_read(session)
    return await create_user(session, username=username, email=email,
                             password_hash=await hash_password(password))


async def authenticate(session: AsyncSession, *, email: str | None, password: str | None) -> Account:
    if _blank(email) or not password or not is_clean(email or "") or not is_clean(password):
        raise InvalidCredentials()
    assert email is not None
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    account, password_hash = (account_of(user), user.password_hash) if user else (None, None)
    await _end_read(session)  # (expires ``user``: read above what is needed below)
    if not await verify_password(password_hash, password) or account is None:
        raise InvalidCredentials()
    return account


async def get_account(session: AsyncSession, user_id: int) -> Account | None:
    user = await session.get(User, user_id)
    return account_of(user) if user else None


async def update_account(
    session: AsyncSession,
    user_id: int,
    *,
    username: str | _Unset | None = UNSET,
    email: str | _Unset | None = UNSET,
    password: str | _Unset | None = UNSET,
    bio: str | _Unset | None = UNSET,
    image: str | _Unset | None = UNSET,
) -> Account:
    """Partial update: UNSET fields stay; None or "" clears bio and image; commits."""
    new_password = None if password is UNSET else clean_password(password)
    # Hashed before the transaction starts, so no lock is held during the slow hash.
    new_hash = None if new_password is None else await hash_password(new_password)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user")
    new_username = None if username is UNSET else clean_username(username)
    new_email = None if email is UNSET else clean_email(email)
    new_bio = UNSET if bio is UNSET else _optional_text("bio", bio, BIO_MAX)
    new_image = UNSET if image is UNSET else _optional_text("image", image, IMAGE_MAX)
    taken = await _taken(session, new_username, new_email, except_id=user_id)
    if taken:
        raise Conflict(*taken)
    if new_username is not None:
        user.username = new_username
    if new_email is not None:
        user.email = new_email
    if new_hash is not None:
        user.password_hash = new_hash
    if new_bio is not UNSET:
        user.bio = new_bio
    if new_image is not UNSET:
        user.image = new_image
    await _commit_unique(session, new_username, new_email, except_id=user_id)
    return account_of(user)


async def set_admin(session: AsyncSession, username: str, is_admin: bool) -> Account:
    user = await _user_by_username(session, username)
    if user is None:
        raise NotFound("profile")
    user.is_admin = is_admin
    await session.commit()
    return account_of(user)


async def is_following(session: AsyncSession, viewer_id: int | None, user_id: int) -> bool:
    if viewer_id is None:
        return False
    found = await session.scalar(
        select(exists().where(Follow.follower_id == viewer_id, Follow.followee_id == user_id))
    )
    return bool(found)


async def get_profile(session: AsyncSession, username: str, viewer_id: int | None = None) -> Profile:
    user = await _user_by_username(session, username)
    if user is None:
        raise NotFound("profile")
    return profile_of(user, await is_following(session, viewer_id, user.id))


async def follow(session: AsyncSession, viewer_id: int, username: str) -> Profile:
    user = await _user_by_username(session, username)
    if user is None:
        raise NotFound("profile")
    if user.id == viewer_id:
        raise Invalid({"profile": ["cannot follow yourself"]})
    await insert_ignore(session, Follow, follower_id=viewer_id, followee_id=user.id)
    await session.commit()
    return profile_of(user, True)


async def unfollow(session: AsyncSession, viewer_id: int, username: str) -> Profile:
    user = await _user_by_username(session, username)
    if user is None:
        raise NotFound("profile")
    await session.execute(
        delete(Follow).where(Follow.follower_id == viewer_id, Follow.followee_id == user.id)
    )
    await session.commit()
    return profile_of(user, False)
