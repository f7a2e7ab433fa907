"""Helpers for the API tests: register over HTTP, auth headers, articles."""

from __future__ import annotations

from typing import Any

import httpx

PASSWORD = "password123"
JSON_TYPE = "application/json; charset=utf-8"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


async def register(http: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    """A new user through the API; returns the token."""
    response = await http.post("/api/users", json={"user": {
        "username": username, "email": f"{username}@example.test", "password": password}})
    assert response.status_code == 201, response.text
    token: str = response.json()["user"]["token"]
    return token


async def new_article(http: httpx.AsyncClient, token: str, title: str = "How to train your dragon",
                      **extra: Any) -> dict[str, Any]:
    article = {"title": title, "description": "Ever wonder how?", "body": "You have to believe",
               **extra}
    response = await http.post("/api/articles", json={"article": article}, headers=auth(token))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()["article"]
    return body


def errors(response: httpx.Response) -> dict[str, list[str]]:
    """The RealWorld error body, after checking it is JSON."""
    assert response.headers["content-type"] == JSON_TYPE
    found: dict[str, list[str]] = response.json()["errors"]
    return found
