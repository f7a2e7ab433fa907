"""argon2id hashing, always off the event loop (one hash takes tens of milliseconds of CPU).

Served apps hash with the argon2 library's recommended parameters. An app made with
``CONDUIT_ENV=testing`` (the in-process test suite) hashes with the same algorithm at the
smallest cost (``use_test_cost``): hundreds of sign-ups a run would otherwise spend a minute of
CPU on hashing. A hash records its own parameters, so either kind verifies either kind. Servers
started in production mode (the benchmarks, bench.fuzz, several tests) hash at the real cost.
"""

from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SERVING = PasswordHasher()  # argon2id with the library's current recommended parameters
TESTING = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # argon2id, the least cost
_hasher = SERVING


def use_test_cost(testing: bool) -> None:
    """Hash at the least cost (``True``: an app made for the tests) or the real one."""
    global _hasher
    _hasher = TESTING if testing else SERVING


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified when the e-mail is unknown, so a miss costs as much time as a wrong password
    (made on first use, not at import: every process that imports this would pay for it)."""
    return hasher.hash("not-a-real-password")


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hash_password_sync, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(_hasher), password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    ok = await asyncio.to_thread(_verify, password_hash, password)
    return ok and password_hash is not None
