"""The base of every scenario: what a virtual user does, one request a step."""

from __future__ import annotations

import random
from typing import Any

from loadtest.client import Client


class SetupError(Exception):
    """The target cannot run this scenario (no demo data, wrong kind of server)."""


class Scenario:
    name = ""

    async def setup(self, client: Client, rng: random.Random) -> None:
        """Learn what the target holds (it must be seeded)."""

    async def step(self, client: Client, rng: random.Random, vu: dict[str, Any],
                   started: float | None = None) -> None:
        raise NotImplementedError

    async def finish(self, client: Client) -> None:
        """Read back what the run wrote; record anything lost as a verification error."""
