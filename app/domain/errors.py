"""One error family for the domain. Each face maps it to its own answer (HTTP status, flash, JSON)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class DomainError(Exception):
    """Base: ``errors`` maps a field (or subject) to human-readable messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k} {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


class NotFound(DomainError):
    def __init__(self, subject: str) -> None:
        super().__init__({subject: ["not found"]})


class Forbidden(DomainError):
    def __init__(self, subject: str, why: str = "forbidden") -> None:
        super().__init__({subject: [why]})


class Conflict(DomainError):
    """A unique value is taken (username, e-mail)."""

    def __init__(self, *fields: str) -> None:
        super().__init__({field: ["has already been taken"] for field in fields})


class Busy(Exception):
    """This worker is at its capacity for a kind of work (password hashes waiting): the request is
    answered 503 "busy" with Retry-After at once, rather than queued without bound."""


class Invalid(DomainError):
    """Input that is well-formed but not acceptable (blank, too long)."""


def check_all(*checks: Callable[[], Any]) -> list[Any]:
    """Run every check and report every field's problem at once (as a form shows them all)."""
    results: list[Any] = []
    errors: dict[str, list[str]] = {}
    for check in checks:
        try:
            results.append(check())
        except Invalid as exc:
            errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    return results


class InvalidCredentials(DomainError):
    def __init__(self) -> None:
        # Never say which half was wrong: that would reveal whether an e-mail is registered.
        super().__init__({"credentials": ["invalid"]})
