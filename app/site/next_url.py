"""The ``next`` a page or form carries to bring a visitor back after signing in or pressing a
button: ``here`` makes it, and ``is_safe_next``, ``safe_next`` and ``form_next`` follow it only to
a path on this site. ``next`` comes from the query string or a form, so anyone can write it: these
checks keep it from becoming an open redirect (``//evil``, ``/\\evil``, a scheme or a host).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import request


def is_safe_next(target: str | None) -> bool:
    """Only a path on this site: no scheme, no host, not protocol-relative (//evil or /\\evil)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    if any(ch in target for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str) -> str:
    return target if target is not None and is_safe_next(target) else default


async def form_next(default: str) -> str:
    """Where a button's form says to go back to (its hidden ``next``), if that stays on this site."""
    return safe_next((await request.form).get("next"), default)


def here() -> str:
    """The current path with its query string: the ``next`` that brings a user back here."""
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")
