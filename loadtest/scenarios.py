"""What the virtual users do. Each ``step`` sends exactly one request, so counts add up."""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import quote

from loadtest.checks import article_list, contains, shape
from loadtest.client import Check, Client
from loadtest.scenario import Scenario, SetupError
from loadtest.writes import ApiWrite


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
        listing = await client.call("setup", "GET", "/api/articles?limit=100", check=article_list)
        tags = await client.call("setup", "GET", "/api/tags", check=shape("tags"))
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
                article_list, "GET /api/articles"
        elif roll < 0.45 and self.tags:
            path, check, name = f"/api/articles?tag={quote(rng.choice(self.tags))}", \
                article_list, "GET /api/articles?tag"
        elif roll < 0.55:
            path, check, name = f"/api/articles?author={quote(rng.choice(self.authors))}", \
                article_list, "GET /api/articles?author"
        elif roll < 0.8:
            path, check, name = f"/api/articles/{rng.choice(self.slugs)}", \
                shape("slug", "title", "body", "tagList", "favoritesCount", "author",
                       wrapper="article"), "GET /api/articles/:slug"
        elif roll < 0.92:
            path, check, name = f"/api/articles/{rng.choice(self.slugs)}/comments", \
                shape("comments"), "GET /api/articles/:slug/comments"
        else:
            path, check, name = "/api/tags", shape("tags"), "GET /api/tags"
        await client.call(name, "GET", path, check=check, started=started)


class Browse(ApiRead):
    """The HTML site: home, pages, tags, articles, profiles."""

    name = "browse"

    async def step(self, client: Client, rng: random.Random, vu: dict[str, Any],
                   started: float | None = None) -> None:
        roll = rng.random()
        check: Check | None
        if roll < 0.25:
            path, check, name = "/", contains("Global Feed"), "GET /"
        elif roll < 0.4:
            path, check, name = f"/?page={rng.randint(1, self.pages)}", None, "GET /?page"
        elif roll < 0.5 and self.tags:
            tag = rng.choice(self.tags)
            path, check, name = f"/?tag={quote(tag)}", contains(tag), "GET /?tag"
        elif roll < 0.8:
            slug = rng.choice(self.slugs)
            path, check, name = f"/article/{slug}", contains(self.titles[slug]), "GET /article"
        else:
            user = rng.choice(self.authors)
            path, check, name = f"/profile/{quote(user)}", contains(user), "GET /profile"
        await client.call(name, "GET", path, html=True, check=check, started=started)


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
