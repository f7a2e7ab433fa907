"""The RealWorld 2.0 wire format: pydantic models for what comes in (and for the OpenAPI document),
and the functions that shape domain records into the JSON that goes out.

Request models keep types. The fields the spec requires are documented as required but let through
when missing, so that the domain reports every blank field at once ("can't be blank", 422), with the
same words as on the site; every other judgement (too long, not allowed) is the domain's too.
``model_fields_set`` tells an omitted field from an explicit null in a partial update.

Answers are plain dicts built here: the response models document them in OpenAPI and are checked
against every answer in the test suite (``app.api.common.check_answers``), not on each request in
production. Names are the spec's camelCase.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.domain.limits import ID_MAX, LIMIT_MAX, OFFSET_MAX, TAGS_MAX
from app.domain.records import Account, ArticleRecord, Page
from app.domain.shapes import article_json, comment_json, profile_json, timestamp

__all__ = ["article_json", "comment_json", "profile_json", "timestamp"]  # shaped in the domain

# Requests -------------------------------------------------------------------------------------


def required(*names: str) -> ConfigDict:
    """Document ``names`` as required (a missing one is the domain's "can't be blank")."""
    return ConfigDict(json_schema_extra={"required": list(names)})


class NewUser(BaseModel):
    model_config = required("username", "email", "password")
    username: str | None = None
    email: str | None = None
    password: str | None = None


class NewUserBody(BaseModel):
    user: NewUser


class LoginUser(BaseModel):
    model_config = required("email", "password")
    email: str | None = None
    password: str | None = None


class LoginBody(BaseModel):
    user: LoginUser


class UserChanges(BaseModel):
    """Omitted fields stay as they are; at least one is needed. "" or null clears bio and image."""

    email: str | None = None
    username: str | None = None
    password: str | None = None
    bio: str | None = None
    image: str | None = None


class UserChangesBody(BaseModel):
    user: UserChanges


class NewArticle(BaseModel):
    model_config = required("title", "description", "body")
    title: str | None = None
    description: str | None = None
    body: str | None = None
    tagList: list[str] = Field(default_factory=list)


class NewArticleBody(BaseModel):
    article: NewArticle


class ArticleChanges(BaseModel):
    """Omitted fields stay; ``tagList: []`` removes every tag, ``tagList: null`` is refused."""

    title: str | None = None
    description: str | None = None
    body: str | None = None
    tagList: list[str] | None = None


class ArticleChangesBody(BaseModel):
    article: ArticleChanges


class NewComment(BaseModel):
    model_config = required("body")
    body: str | None = None


class NewCommentBody(BaseModel):
    comment: NewComment


CURSOR = ("a cursor, from the Link header of the page before: the page {} than it, read from one index "
          "descent however deep (an offset walks every entry before it); not with offset")


class PageQuery(BaseModel):
    limit: int = Field(20, ge=1, description=f"page size; above {LIMIT_MAX} it is {LIMIT_MAX}")
    offset: int = Field(0, ge=0, le=OFFSET_MAX)
    before: str | None = Field(None, max_length=64, description=CURSOR.format("older"))
    after: str | None = Field(None, max_length=64, description=CURSOR.format("newer"))


class TagsQuery(BaseModel):
    limit: int = Field(TAGS_MAX, ge=1, le=TAGS_MAX,
                       description=f"the most used tags first, this many (at most {TAGS_MAX}): an "
                                   "answer costs the same however many tags there are")


class ArticleQuery(PageQuery):
    tag: str | None = None
    author: str | None = None
    favorited: str | None = None


# Answers (documented, and checked against every answer in the tests) --------------------------


class UserOut(BaseModel):
    email: str
    token: str
    username: str
    bio: str | None
    image: str | None


class UserEnvelope(BaseModel):
    user: UserOut


class ProfileOut(BaseModel):
    username: str
    bio: str | None
    image: str | None
    following: bool


class ProfileEnvelope(BaseModel):
    profile: ProfileOut


class ArticleSummary(BaseModel):
    """An article as lists and feeds show it: everything but the body."""

    slug: str
    title: str
    description: str
    tagList: list[str]
    createdAt: datetime
    updatedAt: datetime
    favorited: bool
    favoritesCount: int
    author: ProfileOut


class ArticleOut(ArticleSummary):
    body: str


class ArticleEnvelope(BaseModel):
    article: ArticleOut


class ArticlesEnvelope(BaseModel):
    articles: list[ArticleSummary]
    articlesCount: int  # everything matching, not the page size


class CommentOut(BaseModel):
    id: int = Field(ge=1, le=ID_MAX)
    createdAt: datetime
    updatedAt: datetime
    body: str
    author: ProfileOut


class CommentEnvelope(BaseModel):
    comment: CommentOut


class CommentsEnvelope(BaseModel):
    comments: list[CommentOut]


class TagsEnvelope(BaseModel):
    tags: list[str]


class ErrorsOut(BaseModel):
    """Every error: ``{"errors": {"email": ["has already been taken"]}}``."""

    errors: dict[str, list[str]]


# Shaping --------------------------------------------------------------------------------------


def user_json(account: Account, token: str) -> dict[str, Any]:
    return {"user": {"email": account.email, "token": token, "username": account.username,
                     "bio": account.bio, "image": account.image}}


def article_envelope(record: ArticleRecord) -> dict[str, Any]:
    return {"article": {**article_json(record), "body": record.body or ""}}


def articles_envelope(page: Page[ArticleRecord]) -> dict[str, Any]:
    return {"articles": [article_json(record) for record in page.items], "articlesCount": page.total}
