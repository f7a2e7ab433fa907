"""argon2id hashing, always off the event loop (one hash takes tens of milliseconds of CPU).

Served apps hash with the argon2 library's recommended parameters. An app made with
``CONDUIT_ENV=testing`` (the in-process test suite) hashes with the same algorithm at the
smallest cost (``use_test_cost``): hundreds of sign-ups a run would otherwise spend a minute of
CPU on hashing. A hash records its own parameters, so either kind verifies either kind. Servers
started in production mode (the benchmarks, bench.fuzz, several tests) hash at the real cost.

A worker hashes in its own ``HASHES_AT_ONCE`` threads, at a lower CPU priority (nice 10) than
its event loop, with at most ``HASHES_WAITING`` more hashes waiting; past that a sign-up, sign-in or
password change is refused at once as busy (``Busy``: 503 with Retry-After). One hash at the real
cost takes ~150 ms of CPU over argon2's four lanes: in the default executor, a burst of sign-ins
ran a dozen at once and took the CPU from every other request (open loop at 1,200/s of the
``mixed`` scenario: 120 answers a second, 90% refused). At the lower priority they use what the
event loops leave; on an idle worker they run as fast as before.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.domain.errors import Busy

SERVING = PasswordHasher()  # argon2id with the library's current recommended parameters
TESTING = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # argon2id, the least cost
_hasher = SERVING
HASHES_AT_ONCE = 2
HASHES_WAITING = 8
HASH_NICENESS = 10
T = TypeVar("T")


_pool: ThreadPoolExecutor | None = None
_pending = 0  # hashes running or waiting in this process


def _lower_priority() -> None:
    """Each hash thread (and the lanes argon2 starts from it, which inherit it) yields the CPU to
    the event loop: Linux keeps a nice value per thread (elsewhere this would lower the whole
    process, so it is left alone)."""
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


async def _in_thread(work: Callable[..., T], *args: str | None) -> T:
    global _pool, _pending
    if _pending >= HASHES_AT_ONCE + HASHES_WAITING:
        raise Busy("too many password hashes waiting")
    if _pool is None:  # made on first use: a process that never hashes starts no thread
        _pool = ThreadPoolExecutor(HASHES_AT_ONCE, "argon2", initializer=_lower_priority)
    _pending += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_pool, work, *args)
    finally:
        _pending -= 1


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
    return await _in_thread(hash_password_sync, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(_hasher), password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    ok = await _in_thread(_verify, password_hash, password)
    return ok and password_hash is not None
