"""What the virtual users do. Each ``step`` sends exactly one request, so counts add up."""

from __future__ import annotations

import random
from collections import defaultdict
from functools import partial
from typing import Any
from urllib.parse import quote

from loadtest.client import Check, Client


class SetupError(Exception):
    """The target cannot run this scenario (no demo data, wrong kind of server)."""


def _shape(*keys: str, wrapper: str | None = None) -> Check:
    def check(data: Any) -> str | None:
        obj = data.get(wrapper) if wrapper and isinstance(data, dict) else data
        if not isinstance(obj, dict):
            return f"expected a {wrapper or 'JSON'} object"
        missing = [key for key in keys if key not in obj]
        return f"missing {', '.join(missing)}" if missing else None
    return check


def _article_list(data: Any) -> str | None:
    if not isinstance(data, dict) or not isinstance(data.get("articles"), list):
        return "expected {articles: [...]}"
    if not isinstance(data.get("articlesCount"), int):
        return "articlesCount is not a number"
    for item in data["articles"]:
        if "body" in item or "slug" not in item or "author" not in item:
            return "a list item has the wrong shape (body present, or slug/author missing)"
    return None


def _signed_in(username: str) -> Check:
    def check(data: Any) -> str | None:
        user = data.get("user") if isinstance(data, dict) else None
        if not isinstance(user, dict) or not user.get("token"):
            return "expected {user: {token, ...}}"
        if user.get("username") != username:
            return f"signed in as {user.get('username')!r}, expected {username!r}"
        return None
    return check


def _contains(text: str) -> Check:
    def check(html: Any) -> str | None:
        from html import escape

        return None if escape(text) in html or text in html else f"page lacks {text!r}"
    return check


class Scenario:
    name = ""

    async def setup(self, client: Client, rng: random.Random) -> None:
        """Learn what the target holds (it must be seeded)."""

    async def step(self, client: Client, rng: random.Random, vu: dict[str, Any],
                   started: float | None = None) -> None:
        raise NotImplementedError

    async def finish(self, client: Client) -> None:
        """Read back what the run wrote; record anything lost as a verification error."""


class Contexts(Scenario):
    """``/contexts/echo`` with random tokens and delays: every answer must carry its own token."""

    name = "contexts"
    path = "/contexts/echo"
    fields: tuple[str, ...] = ("g", "contextvar", "request_arg")

    def __init__(self, max_delay_ms: int = 50) -> None:
        self.max_delay_ms = max_delay_ms

    async def step(self, client: Client, rng: random.Random, vu: dict[str, Any],
                   started: float | None = None) -> None:
        vu["n"] = vu.get("n", 0) + 1
        token = f"v{vu['id']}-{vu['n']}-{rng.randrange(1 << 30):x}"
        delay = rng.randint(0, self.max_delay_ms)

        def check(data: Any) -> str | None:
            if not isinstance(data, dict) or data.get("token") != token:
                return "the answer does not echo the token sent"
            wrong = {f: data.get(f) for f in self.fields if data.get(f) != token}
            return f"leak: {wrong}" if wrong else None

        await client.call(self.name, "GET", f"{self.path}?token={token}&delay_ms={delay}",
                          check=check, started=started)


class ThreadLocal(Contexts):
    """``/contexts/threadlocal``: under an event loop its answers carry other requests' tokens."""

    name = "threadlocal"
    path = "/contexts/threadlocal"
    fields = ("threadlocal",)


class ApiRead(Scenario):
    name = "api-read"

    async def setup(self, client: Client, rng: random.Random) -> None:
        listing = await client.call("setup", "GET", "/api/articles?limit=100", check=_article_list)
        tags = await client.call("setup", "GET", "/api/tags", check=_shape("tags"))
        if not listing or not listing["articles"]:
            raise SetupError("the target has no articles: seed it (quart --app app seed)")
        self.slugs = [a["slug"] for a in listing["articles"]]
        self.titles = {a["slug"]: a["title"] for a in listing["articles"]}
        self.authors = sorted({a["author"]["username"] for a in listing["articles"]})
        self.tags = list(tags["tags"]) if tags else []
        self.pages = max(1, listing["articlesCount"] // 20)

    async def step(self, client: Client, rng: random.Random, vu: dict[str, Any],
                   started: float | None = None) -> None:
        roll = rng.random()
        check: Check
        if roll < 0.3:
            path, check, name = f"/api/articles?limit=20&offset={20 * rng.randrange(self.pages)}", \
                _article_list, "GET /api/articles"
        elif roll < 0.45 and self.tags:
            path, check, name = f"/api/articles?tag={quote(rng.choice(self.tags))}", \
                _article_list, "GET /api/articles?tag"
        elif roll < 0.55:
            path, check, name = f"/api/articles?author={quote(rng.choice(self.authors))}", \
                _article_list, "GET /api/articles?author"
        elif roll < 0.8:
            path, check, name = f"/api/articles/{rng.choice(self.slugs)}", \
                _shape("slug", "title", "body", "tagList", "favoritesCount", "author",
                       wrapper="article"), "GET /api/articles/:slug"
        elif roll < 0.92:
            path, check, name = f"/api/articles/{rng.choice(self.slugs)}/comments", \
                _shape("comments"), "GET /api/articles/:slug/comments"
        else:
            path, check, name = "/api/tags", _shape("tags"), "GET /api/tags"
        await client.call(name, "GET", path, check=check, started=started)


class Browse(ApiRead):
    """The HTML site: home, pages, tags, articles, profiles."""

    name = "browse"

    async def step(self, client: Client, rng: random.Random, vu: dict[str, Any],
                   started: float | None = None) -> None:
        roll = rng.random()
        check: Check | None
        if roll < 0.25:
            path, check, name = "/", _contains("Global Feed"), "GET /"
        elif roll < 0.4:
            path, check, name = f"/?page={rng.randint(1, self.pages)}", None, "GET /?page"
        elif roll < 0.5 and self.tags:
            tag = rng.choice(self.tags)
            path, check, name = f"/?tag={quote(tag)}", _contains(tag), "GET /?tag"
        elif roll < 0.8:
            slug = rng.choice(self.slugs)
            path, check, name = f"/article/{slug}", _contains(self.titles[slug]), "GET /article"
        else:
            user = rng.choice(self.authors)
            path, check, name = f"/profile/{quote(user)}", _contains(user), "GET /profile"
        await client.call(name, "GET", path, html=True, check=check, started=started)


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
                check=_signed_in(user))
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
            check=_shape("token", "username", wrapper="user"))
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
            await client.call("GET /api/tags", "GET", "/api/tags", check=_shape("tags"),
                              started=started)
            return
        user, token = rng.choice(self.ready)
        roll = rng.random()
        if roll < 0.35 or not self.created:
            data = await client.call(
                "POST /api/articles", "POST", "/api/articles", token=token, expect=201,
                started=started, check=_shape("slug", wrapper="article"),
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
                                     check=_shape("id", "body", wrapper="comment"))
            if data:
                self.comments[slug].add(data["comment"]["id"])
        elif roll < 0.9:
            slug = rng.choice(self.created)
            data = await client.call("POST /api/articles/:slug/favorite", "POST",
                                     f"/api/articles/{slug}/favorite", token=token,
                                     started=started, check=_shape("favorited", wrapper="article"))
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


class Mixed(Scenario):
    """Half browsing, two fifths API reads, a tenth API writes."""

    name = "mixed"

    def __init__(self, run_id: str) -> None:
        self.browse, self.read, self.write = Browse(), ApiRead(), ApiWrite(run_id)

    async def setup(self, client: Client, rng: random.Random) -> None:
        await self.read.setup(client, rng)
        self.browse.__dict__.update({k: v for k, v in self.read.__dict__.items()})

    async def step(self, client: Client, rng: random.Random, vu: dict[str, Any],
                   started: float | None = None) -> None:
        roll = rng.random()
        part: Scenario = self.browse if roll < 0.5 else self.read if roll < 0.9 else self.write
        await part.step(client, rng, vu, started)

    async def finish(self, client: Client) -> None:
        await self.write.finish(client)


SCENARIOS = ("browse", "api-read", "api-write", "mixed", "contexts", "threadlocal")
WRITERS = ("api-write", "mixed", "live")  # the scenarios that write into the target


def make_scenario(name: str, run_id: str, max_delay_ms: int = 50) -> Scenario:
    if name == "contexts":
        return Contexts(max_delay_ms)
    if name == "threadlocal":
        return ThreadLocal(max_delay_ms)
    if name == "api-read":
        return ApiRead()
    if name == "browse":
        return Browse()
    if name == "api-write":
        return ApiWrite(run_id)
    if name == "mixed":
        return Mixed(run_id)
    raise ValueError(name)
