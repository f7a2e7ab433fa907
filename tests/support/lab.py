"""Helpers for the contexts-lab tests: tokens, aiohttp batches, the table docs/contexts.md states."""

from __future__ import annotations

import asyncio
import random
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from app.contexts.params import IN_FLIGHT_HEADER

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "contexts.md"
BACKGROUND_HEADER = "| started with |"
# How docs/contexts.md spells a value in its background table, and what it means.
TABLE_WORDS: dict[str, Any] = {"the token": "TOKEN", "empty": None, "yes": True, "no": False,
                               "the request's own": "the request's own", "a copy": "a copy"}
# The table's columns, in order, and the observation key each one states.
TABLE_COLUMNS = ("g", "g_is_the_requests", "request", "session", "request_context")


def new_token() -> str:
    return secrets.token_hex(8)


def documented_table(header: str, words: dict[str, Any], columns: tuple[str, ...]
                     ) -> dict[str, dict[str, Any]]:
    """The docs/contexts.md table under the line starting with ``header``, as {job: {column:
    value}}: the job is the row's first code span (``app.`` and ``asyncio.`` dropped), each other
    cell a word that ``words`` turns into the value a test expects."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    table: dict[str, dict[str, Any]] = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        job = cells[0].split("`")[1].removeprefix("app.").removeprefix("asyncio.")
        table[job] = {key: words[word] for key, word in zip(columns, cells[1:], strict=True)}
    return table


def documented_background_table() -> dict[str, dict[str, Any]]:
    """The background table in docs/contexts.md, as {job: {observation key: expected value}}."""
    return documented_table(BACKGROUND_HEADER, TABLE_WORDS, TABLE_COLUMNS)


def expected_for(table_row: dict[str, Any], token: str) -> dict[str, Any]:
    return {key: token if value == "TOKEN" else value for key, value in table_row.items()}


@dataclass
class Batch:
    """One burst of concurrent requests and what came back."""

    answers: list[dict[str, Any]] = field(default_factory=list)
    sent: list[tuple[str, int]] = field(default_factory=list)  # (token, delay_ms)
    in_flight: list[int] = field(default_factory=list)  # echo's X-In-Flight header, per answer
    wall_s: float = 0.0

    @property
    def sum_of_delays_s(self) -> float:
        return sum(delay for _token, delay in self.sent) / 1000


async def fire(base: str, endpoint: str, count: int, max_delay_ms: int, *, seed: int = 5,
               fixed_delay: bool = False) -> Batch:
    """``count`` requests at once (one connection each), random delays (or all ``max_delay_ms``).

    Answers come back in sending order.
    """
    rng = random.Random(seed)
    delays = [max_delay_ms if fixed_delay else rng.randint(0, max_delay_ms) for _ in range(count)]
    batch = Batch(sent=[(new_token(), delay) for delay in delays])
    connector = aiohttp.TCPConnector(limit=0)  # no client-side cap: every request in flight at once
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(token: str, delay: int) -> dict[str, Any]:
            url = f"{base}/contexts/{endpoint}?token={token}&delay_ms={delay}"
            async with session.get(url) as response:
                assert response.status == 200, await response.text()
                body: dict[str, Any] = await response.json()
                if IN_FLIGHT_HEADER in response.headers:
                    batch.in_flight.append(int(response.headers[IN_FLIGHT_HEADER]))
                return body

        started = time.perf_counter()
        batch.answers = list(await asyncio.gather(*(one(t, d) for t, d in batch.sent)))
        batch.wall_s = time.perf_counter() - started
    return batch


def lab_csrf(html: str) -> str:
    """The CSRF token the lab's page hands its script (the background POST must send it)."""
    found = re.search(r'data-csrf="([^"]+)"', html)
    assert found, "the lab page has no data-csrf"
    return found.group(1)
