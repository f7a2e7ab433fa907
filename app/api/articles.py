"""Articles, the feed, favorites, comments and tags."""

from __future__ import annotations

from typing import Any

from quart_schema import validate_querystring, validate_response

from app.api.common import blueprint, current_user, json_body, login_required, viewer_id
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
    article_envelope,
    articles_envelope,
    comment_out,
)
from app.db import get_db
from app.domain import articles, comments
from app.domain.articles import LIMIT_MAX
from app.domain.users import UNSET

MAX_ID = 2**31 - 1  # an id past a 32-bit integer cannot exist (and would overflow PostgreSQL)


@blueprint.get("/articles")
@validate_querystring(ArticleQuery)
@validate_response(ArticlesEnvelope)
async def list_articles(query_args: ArticleQuery) -> ArticlesEnvelope:
    """Most recent first; filter by ``tag``, ``author`` and ``favorited`` (a username)."""
    page = await articles.list_articles(
        get_db(), viewer_id=viewer_id(), tag=query_args.tag, author=query_args.author,
        favorited=query_args.favorited, limit=min(query_args.limit, LIMIT_MAX),
        offset=query_args.offset,
    )
    return articles_envelope(page)


@blueprint.get("/articles/feed")
@login_required
@validate_querystring(PageQuery)
@validate_response(ArticlesEnvelope)
async def feed(query_args: PageQuery) -> ArticlesEnvelope:
    """Articles by the authors the caller follows, most recent first."""
    page = await articles.feed(get_db(), current_user().id, limit=min(query_args.limit, LIMIT_MAX),
                               offset=query_args.offset)
    return articles_envelope(page)


@blueprint.post("/articles")
@login_required
@json_body(NewArticleBody)
@validate_response(ArticleEnvelope, 201)
async def create_article(data: NewArticleBody) -> tuple[ArticleEnvelope, int]:
    new = data.article
    view = await articles.create_article(get_db(), current_user().id, title=new.title,
                                         description=new.description, body=new.body,
                                         tags=new.tagList)
    return article_envelope(view), 201


@blueprint.get("/articles/<slug>")
@validate_response(ArticleEnvelope)
async def get_article(slug: str) -> ArticleEnvelope:
    return article_envelope(await articles.get_article(get_db(), slug, viewer_id()))


@blueprint.put("/articles/<slug>")
@login_required
@json_body(ArticleChangesBody)
@validate_response(ArticleEnvelope)
async def update_article(slug: str, data: ArticleChangesBody) -> ArticleEnvelope:
    """Partial: omitted fields stay, ``tagList: []`` removes the tags; a new title, a new slug."""
    changes = data.article
    given = changes.model_fields_set
    fields: dict[str, Any] = {
        name: getattr(changes, name) if name in given else UNSET
        for name in ("title", "description", "body")
    }
    fields["tags"] = changes.tagList if "tagList" in given else UNSET
    view = await articles.update_article(get_db(), slug, current_user().id, **fields)
    return article_envelope(view)


@blueprint.delete("/articles/<slug>")
@login_required
async def delete_article(slug: str) -> tuple[str, int]:
    await articles.delete_article(get_db(), slug, current_user().id)
    return "", 204


@blueprint.post("/articles/<slug>/favorite")
@login_required
@validate_response(ArticleEnvelope)
async def favorite(slug: str) -> ArticleEnvelope:
    return article_envelope(await articles.favorite(get_db(), current_user().id, slug))


@blueprint.delete("/articles/<slug>/favorite")
@login_required
@validate_response(ArticleEnvelope)
async def unfavorite(slug: str) -> ArticleEnvelope:
    return article_envelope(await articles.unfavorite(get_db(), current_user().id, slug))


@blueprint.get("/articles/<slug>/comments")
@validate_response(CommentsEnvelope)
async def list_comments(slug: str) -> CommentsEnvelope:
    found = await comments.list_comments(get_db(), slug, viewer_id())
    return CommentsEnvelope(comments=[comment_out(view) for view in found])


@blueprint.post("/articles/<slug>/comments")
@login_required
@json_body(NewCommentBody)
@validate_response(CommentEnvelope, 201)
async def add_comment(slug: str, data: NewCommentBody) -> tuple[CommentEnvelope, int]:
    view = await comments.add_comment(get_db(), current_user().id, slug, data.comment.body)
    return CommentEnvelope(comment=comment_out(view)), 201


@blueprint.delete("/articles/<slug>/comments/<comment_id>")
@login_required
async def delete_comment(slug: str, comment_id: str) -> tuple[str, int]:
    # Not an <int:> converter: "/comments/abc" is an unknown comment (404 comment), not a route.
    number = int(comment_id) if comment_id.isascii() and comment_id.isdigit() else 0
    await comments.delete_comment(get_db(), slug, number if number <= MAX_ID else 0,
                                  current_user().id)
    return "", 204


@blueprint.get("/tags")
@validate_response(TagsEnvelope)
async def tags() -> TagsEnvelope:
    return TagsEnvelope(tags=await articles.tags_in_use(get_db()))
