"""Rate limits on sign-in, registration, password changes and writes: per client address and per
account, counted where every worker and every host sees the same counters.

The counting is the ``limits`` library's (fixed windows: a window starts at its first hit and
lasts its period). The counters live in Redis when ``CONDUIT_REDIS_URL`` is set (several hosts),
otherwise in the database's ``rate_limits`` table, which every worker of a host already shares:
``make run``'s two workers count together with no extra server. Either way an increment is one
atomic statement (a Lua script in Redis; INSERT ... ON CONFLICT ... RETURNING in SQL).

A refused request raises ``RateLimited``; each face answers it (429 with ``Retry-After``: the
RealWorld error JSON under /api, the site's error page elsewhere). The client's address is the
peer's, or, when the peer is a configured proxy, the first address in ``X-Forwarded-For`` that is
not one of them (read from the right: a client can put anything on the left).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from quart import Quart, current_app, g, request
from redis.asyncio import ConnectionPool
from sqlalchemy.ext.asyncio import AsyncEngine

from app.infra.rate_limit_counters import DatabaseStorage, redis_pool, redis_storage
from app.infra.settings import Settings

EXTENSION_KEY = "conduit.limiter"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BLOCKED_MAX = 10_000  # refused keys remembered per worker (forgotten all at once past it)


@dataclass(frozen=True)
class Rule:
    what: str  # "sign-in attempts": the answer says "too many sign-in attempts"
    per_address: str  # in the limits library's notation: "20/minute"
    per_account: str | None = None


RULES = {
    # Sign-in: every try counts against the address; a wrong password against the account from
    # that address (SIGNIN_PAIR) and against the account from anywhere (100 an hour). Past the
    # latter, only addresses that signed in to the account before (KNOWN) may try it: a stranger
    # can slow a guesser down but never lock the owner out (see limit_signin).
    "signin": Rule("sign-in attempts", "20/minute", "100/hour"),
    "register": Rule("registrations from this address", "20/hour"),
    "password": Rule("password changes", "20/hour", "5/hour"),
    "write": Rule("changes", "600/minute", "60/minute"),
}


SIGNIN_PAIR = parse("10 per 15 minutes")  # wrong passwords for one account from one address
KNOWN = parse("1 per 30 days")  # an address this account signed in from (a hit marks it)


class RateLimited(Exception):
    """A limit is reached: answer 429 and say when to come back."""

    def __init__(self, rule: Rule, retry_after: int) -> None:
        super().__init__(rule.what)
        self.rule = rule
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        return f"too many {self.rule.what}; try again in {self.retry_after} seconds"


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
                raise RateLimited(RULES[name], retry_after=max(1, math.ceil(ends - time.time())))
            await self._refuse(name, item, kind, key)

    def _refuse_if_blocked(self, name: str, item: RateLimitItem, kind: str, key: str) -> None:
        """A key refused before stays refused until its window ends: no storage trip for it."""
        ends = self.blocked.get((name, kind, key))
        if ends is not None:
            if ends > time.time():
                raise RateLimited(RULES[name], retry_after=max(1, math.ceil(ends - time.time())))
            del self.blocked[(name, kind, key)]

    async def _refuse(self, name: str, item: RateLimitItem, kind: str, key: str) -> None:
        ends = (await self.strategy.get_window_stats(item, name, kind, key)).reset_time
        if len(self.blocked) >= BLOCKED_MAX:
            self.blocked.clear()
        self.blocked[(name, kind, key)] = ends
        raise RateLimited(RULES[name], retry_after=max(1, math.ceil(ends - time.time())))


def identity(who: str) -> str:
    """A short fixed-size key for an address or an account (an e-mail can be long)."""
    return hashlib.sha256(who.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def client_address(proxies: tuple[IPv4Network | IPv6Network, ...], asked: Any = None) -> str:
    """The peer's address, or the client a trusted proxy says it forwards for: the first hop of
    X-Forwarded-For, read from the right, that is not a trusted proxy. IPv6 clients are counted
    by their /64 (one host can hold a whole /64). ``asked``: the request (default) or websocket."""
    asked = request if asked is None else asked
    peer = _parse(asked.remote_addr or "")
    if peer is None:
        return asked.remote_addr or "unknown"
    if proxies and any(peer in network for network in proxies):
        forwarded = ",".join(asked.headers.getlist("X-Forwarded-For"))
        for hop in reversed([hop.strip() for hop in forwarded.split(",") if hop.strip()]):
            address = _parse(hop)
            if address is None:  # not an address: a proxy did not write this; stop believing
                break
            peer = address
            if not any(address in network for network in proxies):
                break
    if isinstance(peer, IPv6Address):
        return str(ip_network(f"{peer}/64", strict=False))
    return str(peer)


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    """An address as proxies write it: ``1.2.3.4``, ``1.2.3.4:5678``, ``[2001:db8::1]:443``, or
    an IPv4 address mapped into IPv6 (``::ffff:10.0.0.5``, as a dual-stack socket reports it)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _limiter() -> Limiter:
    limiter: Limiter = current_app.extensions[EXTENSION_KEY]
    return limiter


async def limit(name: str, account: str | int | None = None) -> None:
    """Count one try at ``name`` (a RULES key) for this client, and for ``account`` if given
    (sign-in has its own: ``limit_signin``)."""
    limiter = _limiter()
    if limiter.storage is not None:
        await limiter.hit(name, client_address(limiter.proxies), account_key(account))


async def limit_signin(email: str | None) -> None:
    """Before a sign-in's password is checked (and hashed): see ``Limiter.hit_signin``."""
    limiter = _limiter()
    await limiter.hit_signin(client_address(limiter.proxies), account_key(email) or "")


async def signin_failed(email: str | None) -> None:
    limiter = _limiter()
    await limiter.signin_failed(client_address(limiter.proxies), account_key(email) or "")


async def signed_in(email: str | None) -> None:
    """The password was right: this address is known to the account for 30 days."""
    limiter = _limiter()
    await limiter.signed_in(client_address(limiter.proxies), account_key(email) or "")


def account_key(account: str | int | None) -> str | None:
    """An account as the domain finds it: e-mails are matched trimmed and in lower case."""
    return None if account is None else str(account).strip().lower()


async def limit_writes() -> None:
    """before_request of the site and the API: a signed-in user's changes count against ``write``
    (sign-in and registration have their own rules, counted in their views)."""
    if request.method in UNSAFE_METHODS and g.get("user") is not None:
        await limit("write", g.user.id)
