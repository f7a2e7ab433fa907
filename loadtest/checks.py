"""What a scenario expects of an answer: checks that look at a decoded body and say what is wrong
with it (None: nothing). ``judge`` (loadtest/client.py) runs them after the status and type."""

from __future__ import annotations

from typing import Any

from loadtest.client import Check


def shape(*keys: str, wrapper: str | None = None) -> Check:
    def check(data: Any) -> str | None:
        obj = data.get(wrapper) if wrapper and isinstance(data, dict) else data
        if not isinstance(obj, dict):
            return f"expected a {wrapper or 'JSON'} object"
        missing = [key for key in keys if key not in obj]
        return f"missing {', '.join(missing)}" if missing else None
    return check


def article_list(data: Any) -> str | None:
    if not isinstance(data, dict) or not isinstance(data.get("articles"), list):
        return "expected {articles: [...]}"
    if not isinstance(data.get("articlesCount"), int):
        return "articlesCount is not a number"
    for item in data["articles"]:
        if "body" in item or "slug" not in item or "author" not in item:
            return "a list item has the wrong shape (body present, or slug/author missing)"
    return None


def signed_in(username: str) -> Check:
    def check(data: Any) -> str | None:
        user = data.get("user") if isinstance(data, dict) else None
        if not isinstance(user, dict) or not user.get("token"):
            return "expected {user: {token, ...}}"
        if user.get("username") != username:
            return f"signed in as {user.get('username')!r}, expected {username!r}"
        return None
    return check


def contains(text: str) -> Check:
    def check(html: Any) -> str | None:
        from html import escape

        return None if escape(text) in html or text in html else f"page lacks {text!r}"
    return check
