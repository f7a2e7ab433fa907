"""The writing scenario: ``ApiWrite`` registers, signs in, creates, comments, favorites and follows,
then reads back every acknowledged write."""

from __future__ import annotations

import random
from collections import defaultdict
from functools import partial
from typing import Any

from loadtest.checks import shape, signed_in
from loadtest.client import Client
from loadtest.scenario import Scenario


class ApiWrite(Scenario):
    """Register, sign in, create, comment, favorite, follow; then check nothing was lost.

    The writes come from a pool of at most ``ACCOUNTS`` accounts, made as the run goes (each one
    registered, then signed in; the writes use the sign-in's token, not sign-up's), whatever the
    number of virtual users: a sign-up hashes a password, and a run whose every user made its own
    account would measure mostly hashing, more of it the more users an open loop had in flight."""

    name = "api-write"
    ACCOUNTS = 16

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.created: list[str] = []
        self.fans: dict[str, set[str]] = defaultdict(set)
        self.unsure: dict[str, int] = defaultdict(int)  # favorites whose answer never came
        self.comments: dict[str, set[int]] = defaultdict(set)
        self.authors: list[str] = []
        self.made = 0  # accounts in the pool or on their way
        self.named = 0
        self.pending = False  # a sign-up or sign-in is in flight
        self.registered: list[str] = []  # signed up, to be signed in
        self.ready: list[tuple[str, str]] = []  # (username, token)

    async def _account(self, client: Client, started: float | None) -> None:
        """One request towards the pool: sign in an account that signed up, else sign one up."""
        if self.registered:
            user = self.registered.pop()
            data = await client.call(
                "POST /api/users/login", "POST", "/api/users/login", started=started,
                body={"user": {"email": f"{user}@load.test", "password": "load-test-pw"}},
                check=signed_in(user))
            if data:
                self.ready.append((user, data["user"]["token"]))
            else:  # its slot goes to a new account rather than a sign-in retried forever
                self.made -= 1
            return
        user = f"lt{self.run_id}n{self.named}"  # never a name sent before, whatever came of it
        self.named += 1
        self.made += 1
        data = await client.call(
            "POST /api/users", "POST", "/api/users", expect=201, started=started,
            body={"user": {"username": user, "email": f"{user}@load.test",
                           "password": "load-test-pw"}},
            check=shape("token", "username", wrapper="user"))
        if data:
            self.registered.append(user)
            self.authors.append(user)
        else:
            self.made -= 1

    async def step(self, client: Client, rng: random.Random, vu: dict[str, Any],
                   started: float | None = None) -> None:
        # One account on its way at a time (signing up, then in), until the pool is full; while
        # none is ready, a read stands in for the write. A server refusing sign-ups under
        # overload so meets one attempt at a time, not a storm of them.
        if not self.pending and (self.registered or self.made < self.ACCOUNTS):
            self.pending = True
            try:
                await self._account(client, started)
            finally:
                self.pending = False
            return
        if not self.ready:
            await client.call("GET /api/tags", "GET", "/api/tags", check=shape("tags"),
                              started=started)
            return
        user, token = rng.choice(self.ready)
        roll = rng.random()
        if roll < 0.35 or not self.created:
            data = await client.call(
                "POST /api/articles", "POST", "/api/articles", token=token, expect=201,
                started=started, check=shape("slug", wrapper="article"),
                body={"article": {"title": f"Load {user} {rng.randrange(1 << 30):x}",
                                  "description": "written under load", "body": "Load *test*.",
                                  "tagList": ["load"]}})
            if data:
                self.created.append(data["article"]["slug"])
        elif roll < 0.6:
            slug = rng.choice(self.created)
            data = await client.call("POST /api/articles/:slug/comments", "POST",
                                     f"/api/articles/{slug}/comments", token=token, expect=201,
                                     started=started, body={"comment": {"body": "a load comment"}},
                                     check=shape("id", "body", wrapper="comment"))
            if data:
                self.comments[slug].add(data["comment"]["id"])
        elif roll < 0.9:
            slug = rng.choice(self.created)
            data = await client.call("POST /api/articles/:slug/favorite", "POST",
                                     f"/api/articles/{slug}/favorite", token=token,
                                     started=started, check=shape("favorited", wrapper="article"))
            if data:
                self.fans[slug].add(user)
            else:  # no answer (a host died with it in flight): it may or may not have been written
                self.unsure[slug] += 1
        else:
            other = rng.choice(self.authors)
            expect = 403 if other == user else 200  # following yourself is refused
            await client.call("POST /api/profiles/:username/follow", "POST",
                              f"/api/profiles/{other}/follow", token=token, expect=expect,
                              started=started)

    async def finish(self, client: Client) -> None:
        """Every acknowledged write is there: each article, each comment, each favorite (the
        count may exceed the acknowledged favorites by those whose answer was lost)."""
        for slug in self.created:
            low = len(self.fans.get(slug, ()))
            high = low + self.unsure.get(slug, 0)

            def check(data: Any, low: int = low, high: int = high) -> str | None:
                count = data.get("article", {}).get("favoritesCount")
                return None if isinstance(count, int) and low <= count <= high else \
                    f"lost write: favoritesCount {count}, favorites acknowledged {low}"

            await client.call("read-back", "GET", f"/api/articles/{slug}", check=check)
            if self.comments.get(slug):
                await client.call("read-back", "GET", f"/api/articles/{slug}/comments",
                                  check=partial(_all_comments, self.comments[slug]))


def _all_comments(acknowledged: set[int], data: Any) -> str | None:
    found = {comment.get("id") for comment in data.get("comments", [])}
    missing = acknowledged - found
    return f"lost write: comments {sorted(missing)} acknowledged but not there" if missing else None
