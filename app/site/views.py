"""The server-rendered site (a first page; the full site grows here)."""

from __future__ import annotations

from quart import Blueprint, render_template, request

from app.db import get_db
from app.domain import articles

blueprint = Blueprint("site", __name__)
PAGE_SIZE = 10


@blueprint.get("/")
async def home() -> str:
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    result = await articles.list_articles(get_db(), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    tags = await articles.tags_in_use(get_db(), limit=20)
    return await render_template("site/home.html", page=page, result=result, tags=tags,
                                 page_size=PAGE_SIZE)
