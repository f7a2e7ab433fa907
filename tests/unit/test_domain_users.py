"""Accounts, profiles and follows through the domain layer, on the real database."""

from __future__ import annotations

import threading
from datetime import UTC

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import create_app
from app.domain import Conflict, Forbidden, Invalid, InvalidCredentials, NotFound, passwords, users
from app.domain.records import Account
from app.models import User


async def _alice(db: AsyncSession) -> Account:
    return await users.register(db, username="Alice", email="Alice@Example.test",
                                password="wonderland-1")


async def test_register_stores_an_argon2id_hash_and_a_lowercased_email(db: AsyncSession) -> None:
    account = await _alice(db)
    assert account.username == "Alice"
    assert account.email == "alice@example.test"
    assert account.created_at.tzinfo == UTC
    stored = await db.scalar(select(User.password_hash).where(User.id == account.id))
    assert stored is not None and stored.startswith("$argon2id$")
    assert "wonderland-1" not in stored


async def test_passwords_are_hashed_off_the_event_loop(db: AsyncSession, monkeypatch) -> None:
    seen: list[int] = []
    real_hash = passwords.hash_password_sync

    def spying_hash(password: str) -> str:
        seen.append(threading.get_ident())
        return real_hash(password)

    monkeypatch.setattr(passwords, "hash_password_sync", spying_hash)
    await _alice(db)
    assert seen and threading.get_ident() not in seen


async def test_authenticate_accepts_the_password_and_hides_which_half_was_wrong(
        db: AsyncSession) -> None:
    await _alice(db)
    account = await users.authenticate(db, email="ALICE@example.test", password="wonderland-1")
    assert account.username == "Alice"
    with pytest.raises(InvalidCredentials) as wrong_password:
        await users.authenticate(db, email="alice@example.test", password="wrong-password")
    with pytest.raises(InvalidCredentials) as unknown_email:
        await users.authenticate(db, email="nobody@example.test", password="wonderland-1")
    assert wrong_password.value.errors == unknown_email.value.errors == {"credentials": ["invalid"]}


@pytest.mark.parametrize(("username", "email"), [
    ("alice", "other@example.test"),  # usernames are unique whatever their case
    ("other", "ALICE@EXAMPLE.TEST"),  # and e-mails compare case-insensitively
])
async def test_taken_username_or_email_is_a_conflict(db: AsyncSession, username: str,
                                                     email: str) -> None:
    await _alice(db)
    with pytest.raises(Conflict) as caught:
        await users.register(db, username=username, email=email, password="another-pass")
    assert list(caught.value.errors.values()) == [["has already been taken"]]


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"username": ""}, "username", "can't be blank"),
    ({"username": "has space"}, "username", "must be 1 to 64"),
    ({"email": "   "}, "email", "can't be blank"),
    ({"email": "not-an-email"}, "email", "is invalid"),
    ({"email": "b" * 250 + "@x.io"}, "email", "is too long (maximum is 254"),
    ({"password": ""}, "password", "can't be blank"),
    ({"password": "short"}, "password", "is too short"),
])
async def test_registration_input_is_validated(db: AsyncSession, fields: dict[str, str],
                                               field: str, message: str) -> None:
    values = {"username": "bob", "email": "bob@example.test", "password": "long-enough", **fields}
    with pytest.raises(Invalid) as caught:
        await users.register(db, **values)
    assert field in caught.value.errors
    assert message in caught.value.errors[field][0]
    assert await db.scalar(select(User.id)) is None  # nothing half-written


async def test_update_is_partial_and_clears_bio_and_image_with_empty(db: AsyncSession) -> None:
    account = await _alice(db)
    updated = await users.update_account(db, account.id, bio="Curious.", image="http://i/a.png")
    assert (updated.bio, updated.image, updated.username) == ("Curious.", "http://i/a.png", "Alice")
    updated = await users.update_account(db, account.id, image="  HTTPS://i/b.png  ")
    assert updated.image == "HTTPS://i/b.png"  # a scheme is case-insensitive; spaces are trimmed
    updated = await users.update_account(db, account.id, bio="", image=None)
    assert (updated.bio, updated.image) == (None, None)
    long_password = "p" * 64
    await users.update_account(db, account.id, password=long_password)
    assert (await users.authenticate(db, email="alice@example.test",
                                     password=long_password)).id == account.id
    with pytest.raises(Invalid):
        await users.update_account(db, account.id, username=None)
    with pytest.raises(Invalid):
        await users.update_account(db, account.id, password="1234567")


async def test_update_to_a_taken_name_is_a_conflict(db: AsyncSession) -> None:
    alice = await _alice(db)
    await users.register(db, username="bob", email="bob@example.test", password="builder-99")
    with pytest.raises(Conflict) as caught:
        await users.update_account(db, alice.id, username="BOB", email="bob@example.test")
    assert set(caught.value.errors) == {"username", "email"}
    same = await users.update_account(db, alice.id, username="alice")  # own name, new case
    assert same.username == "alice"


async def test_follow_unfollow_and_profiles(db: AsyncSession) -> None:
    alice = await _alice(db)
    bob = await users.register(db, username="bob", email="bob@example.test", password="builder-99")
    assert not (await users.get_profile(db, "bob", viewer_id=alice.id)).following
    assert (await users.follow(db, alice.id, "bob")).following
    assert (await users.follow(db, alice.id, "bob")).following  # idempotent
    assert (await users.get_profile(db, "bob", viewer_id=alice.id)).following
    assert not (await users.get_profile(db, "alice", viewer_id=bob.id)).following
    assert not (await users.get_profile(db, "bob")).following  # anonymous viewer
    assert not (await users.unfollow(db, alice.id, "bob")).following
    assert not (await users.get_profile(db, "bob", viewer_id=alice.id)).following
    with pytest.raises(Forbidden):
        await users.follow(db, alice.id, "alice")
    with pytest.raises(NotFound) as caught:
        await users.follow(db, alice.id, "nobody")
    assert caught.value.errors == {"profile": ["not found"]}


async def test_set_admin(db: AsyncSession) -> None:
    await _alice(db)
    assert (await users.set_admin(db, "alice", True)).is_admin
    assert not (await users.set_admin(db, "Alice", False)).is_admin
    with pytest.raises(NotFound):
        await users.set_admin(db, "nobody", True)


def test_served_apps_hash_at_the_real_cost_and_test_apps_at_the_least(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cost.db'}"
    try:
        create_app({"env": "production", "secret_key": "s" * 48, "database_url": url})
        served = passwords.hash_password_sync("a password")
        create_app({"env": "testing", "database_url": url})
        tested = passwords.hash_password_sync("a password")
    finally:
        passwords.use_test_cost(True)  # as the suite's apps are
    assert served.startswith("$argon2id$") and "m=65536,t=3,p=4" in served  # the library's default
    assert tested.startswith("$argon2id$") and "m=8,t=1,p=1" in tested
    for hasher in (passwords.SERVING, passwords.TESTING):  # a hash carries its own parameters
        assert hasher.verify(served, "a password") and hasher.verify(tested, "a password")
