"""The limiter: a Flask-style extension that counts tries against the rules
(app/infra/rate_limit_rules.py) in storage every worker and every host shares, and refuses past them.

The counting is the ``limits`` library's (fixed windows: a window starts at its first hit and
lasts its period). The counters live in Redis when ``CONDUIT_REDIS_URL`` is set (several hosts),
otherwise in the database's ``rate_limits`` table, which every worker of a host already shares:
``make run``'s two workers count together with no extra server (both storages:
app/infra/rate_limit_counters.py). Either way an increment is one atomic statement (a Lua script in
Redis; INSERT ... ON CONFLICT ... RETURNING in SQL). A key refused once is remembered in the worker
until its window ends, so a client hammering past its limit costs no storage trip.

Views do not call it directly: app/infra/rate_limits.py finds the client and the account for them.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from quart import Quart, current_app
from redis.asyncio import ConnectionPool
from sqlalchemy.ext.asyncio import AsyncEngine

from app.infra.rate_limit_counters import DatabaseStorage, redis_pool, redis_storage
from app.infra.rate_limit_rules import KNOWN, RULES, SIGNIN_PAIR, RateLimited
from app.infra.settings import Settings

EXTENSION_KEY = "conduit.limiter"
BLOCKED_MAX = 10_000  # refused keys remembered per worker (forgotten all at once past it)


class Limiter:
    """Flask-style extension: the storage opens with the app (after the database's engine)."""

    def init_app(self, app: Quart, settings: Settings, engine: Callable[[], AsyncEngine]) -> None:
        app.extensions[EXTENSION_KEY] = self
        self.enabled = settings.rate_limits
        self.proxies = settings.trusted_proxy_networks
        self.items = {name: (parse(rule.per_address),
                             parse(rule.per_account) if rule.per_account else None)
                      for name, rule in RULES.items()}
        self.storage: Storage | None = None
        self.pool: ConnectionPool | None = None
        self.blocked: dict[tuple[str, str, str], float] = {}  # refused keys: until when

        @app.before_serving
        async def _open() -> None:
            if not self.enabled:
                return
            if settings.redis_url:
                self.pool = redis_pool(settings)
                self.storage = redis_storage(settings, self.pool)
            else:
                self.storage = DatabaseStorage(engine())
            self.strategy = FixedWindowRateLimiter(self.storage)

        @app.after_serving
        async def _close() -> None:
            if self.pool is not None:
                await self.pool.aclose()
            self.storage = self.pool = None

    async def hit(self, name: str, address: str, account: str | None) -> None:
        """Count one try against the rule's address limit and its account limit; RateLimited
        over either."""
        if self.storage is None:
            return
        per_address, per_account = self.items[name]
        await self._hit(name, per_address, "address", address)
        if per_account is not None and account is not None:
            await self._hit(name, per_account, "account", account)

    async def hit_signin(self, address: str, account: str) -> None:
        """One sign-in try: counted against the address; refused when this address got the
        account's password wrong too often, or when the account did from everywhere and this
        address never signed in to it."""
        if self.storage is None:
            return
        per_address, per_account = self.items["signin"]
        assert per_account is not None
        await self._hit("signin", per_address, "address", address)
        await self._check("signin", SIGNIN_PAIR, "pair", f"{account} {address}")
        try:
            await self._check("signin", per_account, "account", account, cache=False)
        except RateLimited:
            stats = await self.strategy.get_window_stats(KNOWN, "signin", "known",
                                                         identity(f"{account} {address}"))
            if stats.remaining == KNOWN.amount:  # never signed in from here: wait
                raise

    async def signin_failed(self, address: str, account: str) -> None:
        if self.storage is not None:
            _, per_account = self.items["signin"]
            assert per_account is not None
            await self.strategy.hit(SIGNIN_PAIR, "signin", "pair", identity(f"{account} {address}"))
            await self.strategy.hit(per_account, "signin", "account", identity(account))

    async def signed_in(self, address: str, account: str) -> None:
        """Mark this address known to the account for 30 days from now (a fixed window would
        end 30 days after the first sign-in, however often the owner signed in since)."""
        if self.storage is not None:
            key = identity(f"{account} {address}")
            await self.strategy.clear(KNOWN, "signin", "known", key)
            await self.strategy.hit(KNOWN, "signin", "known", key)

    async def _hit(self, name: str, item: RateLimitItem, kind: str, who: str) -> None:
        key = identity(who)
        self._refuse_if_blocked(name, item, kind, key)
        if not await self.strategy.hit(item, name, kind, key):
            await self._refuse(name, item, kind, key)

    async def _check(self, name: str, item: RateLimitItem, kind: str, who: str, *,
                     cache: bool = True) -> None:
        """Refuse when ``who`` is over ``item`` (``cache``: remember the refusal in this worker
        until the window ends; not where some clients are let through anyway)."""
        key = identity(who)
        if cache:
            self._refuse_if_blocked(name, item, kind, key)
        if not await self.strategy.test(item, name, kind, key):
            if not cache:
                ends = (await self.strategy.get_window_stats(item, name, kind, key)).reset_time
                raise RateLimited(name, retry_after=max(1, math.ceil(ends - time.time())))
            await self._refuse(name, item, kind, key)

    def _refuse_if_blocked(self, name: str, item: RateLimitItem, kind: str, key: str) -> None:
        """A key refused before stays refused until its window ends: no storage trip for it."""
        ends = self.blocked.get((name, kind, key))
        if ends is not None:
            if ends > time.time():
                raise RateLimited(name, retry_after=max(1, math.ceil(ends - time.time())))
            del self.blocked[(name, kind, key)]

    async def _refuse(self, name: str, item: RateLimitItem, kind: str, key: str) -> None:
        ends = (await self.strategy.get_window_stats(item, name, kind, key)).reset_time
        if len(self.blocked) >= BLOCKED_MAX:
            self.blocked.clear()
        self.blocked[(name, kind, key)] = ends
        raise RateLimited(name, retry_after=max(1, math.ceil(ends - time.time())))


def identity(who: str) -> str:
    """A short fixed-size key for an address or an account (an e-mail can be long)."""
    return hashlib.sha256(who.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def get_limiter() -> Limiter:
    """The current app's limiter."""
    limiter: Limiter = current_app.extensions[EXTENSION_KEY]
    return limiter
