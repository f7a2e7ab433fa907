"""Helpers for the site's tests: CSRF tokens read from pages, signing in, making users and articles."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import articles, users
from app.domain.records import Account, ArticleRecord
from tests.conftest import TEST_PASSWORD, TEST_PASSWORD_HASH

_INPUT = re.compile(r"<input[^>]*>")
_VALUE = re.compile(r'value="([^"]*)"')


def csrf_from(html: str) -> str:
    """The csrf_token hidden input's value in a page (the session's token)."""
    for tag in _INPUT.findall(html):
        if 'name="csrf_token"' in tag:
            found = _VALUE.search(tag)
            if found:
                return found.group(1)
    raise AssertionError("no csrf_token input in the page")


async def page_text(client: Any, path: str, status: int = 200) -> str:
    response = await client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return str(await response.get_data(as_text=True))


async def token_for(client: Any, path: str) -> str:
    return csrf_from(await page_text(client, path))


async def post(client: Any, path: str, data: dict[str, str] | None = None, *,
               token_page: str = "/settings", token: str | None = None) -> Any:
    """POST a form with the CSRF token read from ``token_page`` (a page that has a form)."""
    form = dict(data or {})
    form["csrf_token"] = token if token is not None else await token_for(client, token_page)
    return await client.post(path, form=form)


async def make_user(db: AsyncSession, name: str, *, is_admin: bool = False) -> Account:
    """A user whose password is TEST_PASSWORD (hashed once for the whole run)."""
    return await users.create_user(db, username=name, email=f"{name}@example.test",
                                   password_hash=TEST_PASSWORD_HASH, is_admin=is_admin)


async def make_article(db: AsyncSession, author: Account, title: str, *, body: str = "Some *body*.",
                       tags: tuple[str, ...] = ("python",)) -> ArticleRecord:
    return await articles.create_article(db, author.id, title=title, description=f"About {title}",
                                         body=body, tags=tags)


async def sign_in(client: Any, name: str, password: str = TEST_PASSWORD) -> Any:
    token = await token_for(client, "/login")
    response = await client.post("/login", form={"email": f"{name}@example.test",
                                                 "password": password, "csrf_token": token})
    assert response.status_code == 302, await response.get_data()
    return response


def body_of(html: bytes | str) -> str:
    return html.decode() if isinstance(html, bytes) else html
