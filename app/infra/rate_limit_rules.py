"""The rate limits themselves: what is limited, how often per client address and per account
(``RULES``, ``SIGNIN_PAIR``, ``KNOWN``), and ``RateLimited``, the refusal a view raises past one.

Kept apart from the counting (app/infra/rate_limiter.py) so the numbers can be read, and changed,
in one short place, and so the error handlers that answer ``RateLimited`` (429 with
``Retry-After``: the RealWorld error JSON under /api, the site's error page elsewhere) need not
import the limiter and its storages.
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import parse


@dataclass(frozen=True)
class Rule:
    what: str  # "sign-in attempts": the answer says "too many sign-in attempts"
    per_address: str  # in the limits library's notation: "20/minute"
    per_account: str | None = None


RULES = {
    # Sign-in: every try counts against the address; a wrong password against the account from
    # that address (SIGNIN_PAIR) and against the account from anywhere (100 an hour). Past the
    # latter, only addresses that signed in to the account before (KNOWN) may try it: a stranger
    # can slow a guesser down but never lock the owner out (see Limiter.hit_signin).
    "signin": Rule("sign-in attempts", "20/minute", "100/hour"),
    "register": Rule("registrations from this address", "20/hour"),
    "password": Rule("password changes", "20/hour", "5/hour"),
    "write": Rule("changes", "600/minute", "60/minute"),
}


SIGNIN_PAIR = parse("10 per 15 minutes")  # wrong passwords for one account from one address
KNOWN = parse("1 per 30 days")  # an address this account signed in from (a hit marks it)


class RateLimited(Exception):
    """A limit is reached: answer 429 and say when to come back."""

    def __init__(self, name: str, retry_after: int) -> None:
        self.name = name  # the rule's key in RULES: what the metrics count it under
        self.rule = RULES[name]
        super().__init__(self.rule.what)
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        return f"too many {self.rule.what}; try again in {in_words(self.retry_after)}"


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" + ("" if n == 1 else "s")


def in_words(seconds: int) -> str:
    """A wait as a person says it: "52 minutes", not "3120 seconds" (rounded up: never sooner
    than the limit allows; the Retry-After header keeps the exact seconds)."""
    if seconds < 60:
        return _count(max(seconds, 1), "second")
    if seconds < 3600:
        return _count(-(-seconds // 60), "minute")
    hours, rest = divmod(seconds, 3600)
    minutes = -(-rest // 60)
    if minutes == 60:
        hours, minutes = hours + 1, 0
    return _count(hours, "hour") + (f" {_count(minutes, 'minute')}" if minutes else "")
