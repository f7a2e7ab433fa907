"""Articles, the feed, favorites, comments and tags."""

from __future__ import annotations

from typing import Any

from quart import Response, jsonify, url_for

from app.api import blueprint
from app.api.answers import answers, no_content
from app.api.auth import anyone, current_user, login_required, viewer_id
from app.api.schemas import (
    ArticleChangesBody,
    ArticleEnvelope,
    ArticleQuery,
    ArticlesEnvelope,
    CommentEnvelope,
    CommentsEnvelope,
    NewArticleBody,
    NewCommentBody,
    PageQuery,
    TagsEnvelope,
    TagsQuery,
    article_envelope,
    articles_envelope,
    comment_json,
)
from app.api.validation import json_body, query
from app.domain import article_lists, articles, comments, favorites
from app.domain.limits import ID_MAX, LIMIT_MAX
from app.domain.records import ArticleRecord, Page
from app.domain.users import UNSET
from app.infra.database import get_db

Json = dict[str, Any]


@blueprint.get("/articles")
@query(ArticleQuery)
@answers(ArticlesEnvelope, 200, 401, 422)
async def list_articles(query_args: ArticleQuery) -> Response:
    """Most recent first; filter by ``tag``, ``author`` and ``favorited`` (a username). The
    ``Link`` header names the older page (``rel="next"``) and, from a cursor, the newer one
    (``rel="prev"``). ``articlesCount`` comes from counters; for filters combined it is counted up
    to 10,000 and is 10,000 past that."""
    filters = {name: value for name in ("tag", "author", "favorited")
               if (value := getattr(query_args, name))}
    page = await article_lists.list_articles(
        get_db(), viewer_id=viewer_id(), limit=min(query_args.limit, LIMIT_MAX),
        offset=query_args.offset, before=query_args.before, after=query_args.after, **filters)
    return _linked(page, "api.list_articles", filters, query_args)


def _linked(page: Page[ArticleRecord], endpoint: str, args: dict[str, Any],
            query_args: PageQuery) -> Response:
    """The page as the spec shapes it, with a ``Link`` header to its neighbours by cursor (the
    next page of one between two cursors stays above the lower one)."""
    response = jsonify(articles_envelope(page))
    floor = {"after": query_args.after} if query_args.before and query_args.after else {}
    sides: list[tuple[str, dict[str, Any]]] = [("next", {"before": page.older, **floor}),
                                               ("prev", {"after": page.newer})]
    links = [f'<{url_for(endpoint, **args, limit=page.limit, **cursor)}>; rel="{rel}"'
             for rel, cursor in sides if None not in cursor.values()]
    if links:
        response.headers["Link"] = ", ".join(links)
    return response


@blueprint.get("/articles/feed")
@login_required
@query(PageQuery)
@answers(ArticlesEnvelope, 200, 422)
async def feed(query_args: PageQuery) -> Response:
    """Articles by the authors the caller follows, most recent first; ``Link`` as for the list."""
    page = await article_lists.feed(get_db(), current_user().id, limit=min(query_args.limit, LIMIT_MAX),
                               offset=query_args.offset, before=query_args.before,
                               after=query_args.after)
    return _linked(page, "api.feed", {}, query_args)


@blueprint.post("/articles")
@login_required
@json_body(NewArticleBody)
@answers(ArticleEnvelope, 201, 409, 422)
async def create_article(data: NewArticleBody) -> tuple[Json, int]:
    new = data.article
    record = await articles.create_article(get_db(), current_user().id, title=new.title,
                                           description=new.description, body=new.body,
                                           tags=new.tagList)
    return article_envelope(record), 201


@blueprint.get("/articles/<slug:slug>")
@answers(ArticleEnvelope, 200, 401, 404, 422)
async def get_article(slug: str) -> Json:
    """A slug the article had before a rename answers 301 to its current URL (app.former_slugs)."""
    return article_envelope(await article_lists.get_article(get_db(), slug, viewer_id()))


@blueprint.put("/articles/<slug:slug>")
@login_required
@json_body(ArticleChangesBody)
@answers(ArticleEnvelope, 200, 403, 404, 409, 422)
async def update_article(slug: str, data: ArticleChangesBody) -> Json:
    """Partial: omitted fields stay, ``tagList: []`` removes the tags; a new title, a new slug."""
    changes = data.article
    given = changes.model_fields_set
    fields: dict[str, Any] = {
        name: getattr(changes, name) if name in given else UNSET
        for name in ("title", "description", "body")
    }
    fields["tags"] = changes.tagList if "tagList" in given else UNSET
    record = await articles.update_article(get_db(), slug, current_user().id, **fields)
    return article_envelope(record)


@blueprint.delete("/articles/<slug:slug>")
@login_required
@answers(None, 204, 403, 404, 422)
async def delete_article(slug: str) -> Response:
    await articles.delete_article(get_db(), slug, current_user().id)
    return no_content()


@blueprint.post("/articles/<slug>/favorite")
@login_required
@answers(ArticleEnvelope, 200, 404, 422)
async def favorite(slug: str) -> Json:
    return article_envelope(await favorites.favorite(get_db(), current_user().id, slug))


@blueprint.delete("/articles/<slug>/favorite")
@login_required
@answers(ArticleEnvelope, 200, 404, 422)
async def unfavorite(slug: str) -> Json:
    return article_envelope(await favorites.unfavorite(get_db(), current_user().id, slug))


@blueprint.get("/articles/<slug>/comments")
@answers(CommentsEnvelope, 200, 401, 404, 422)
async def list_comments(slug: str) -> Json:
    found = await comments.list_comments(get_db(), slug, viewer_id())
    return {"comments": [comment_json(record) for record in found]}


@blueprint.post("/articles/<slug>/comments")
@login_required
@json_body(NewCommentBody)
@answers(CommentEnvelope, 201, 404, 422)
async def add_comment(slug: str, data: NewCommentBody) -> tuple[Json, int]:
    record = await comments.add_comment(get_db(), current_user().id, slug, data.comment.body)
    return {"comment": comment_json(record)}, 201


@blueprint.delete("/articles/<slug>/comments/<comment_id>")
@login_required
@answers(None, 204, 403, 404, 422)
async def delete_comment(slug: str, comment_id: str) -> Response:
    # Not an <int:> converter: "/comments/abc" is an unknown comment (404 comment), not a route.
    number = int(comment_id) if comment_id.isascii() and comment_id.isdigit() else 0
    await comments.delete_comment(get_db(), slug, number if number <= ID_MAX else 0,
                                  current_user().id)
    return no_content()


@blueprint.get("/tags")
@anyone
@query(TagsQuery)
@answers(TagsEnvelope, 200, 422)
async def tags(query_args: TagsQuery) -> Json:
    """The tags on at least one article, the most used first."""
    return {"tags": await article_lists.tags_in_use(get_db(), limit=query_args.limit)}
