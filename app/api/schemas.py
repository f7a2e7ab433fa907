"""The RealWorld 2.0 wire format: pydantic models for what comes in (and for the OpenAPI document),
and the functions that shape domain records into the JSON that goes out.

Request models keep types. The fields the spec requires are documented as required but let through
when missing, so that the domain reports every blank field at once ("can't be blank", 422), with the
same words as on the site; every other judgement (too long, not allowed) is the domain's too.
``model_fields_set`` tells an omitted field from an explicit null in a partial update.

Answers are plain dicts built here: the response models document them in OpenAPI and are checked
against every answer in the test suite (``app.api.answers.check_answers``), not on each request in
production. Names are the spec's camelCase.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from app.api import field_rules as rules
from app.domain.limits import ID_MAX, LIMIT_MAX, OFFSET_MAX, TAGS_MAX
from app.domain.realworld_json import article_json, comment_json, profile_json, timestamp
from app.domain.records import Account, ArticleRecord, Page

__all__ = ["article_json", "comment_json", "profile_json", "timestamp"]  # shaped in the domain

# Requests -------------------------------------------------------------------------------------


def request_object(*required: str, at_least_one: tuple[str, ...] = ()) -> ConfigDict:
    """A request model's documented object: ``required`` fields (a missing one is the domain's
    "can't be blank"), or one of ``at_least_one``; a field that may be left out has no
    documented default (null is not one)."""

    def extra(schema: dict[str, Any]) -> None:
        for field in schema.get("properties", {}).values():
            if "default" in field and field["default"] is None:
                del field["default"]
        if required:
            schema["required"] = list(required)
        if at_least_one:
            schema.update(rules.at_least_one_of(*at_least_one))

    return ConfigDict(json_schema_extra=extra)


CURSOR = ("a cursor, from the Link header of the page before: the page {} than it, read from one index "
          "descent however deep (an offset walks every entry before it). With both before and after: "
          "the articles between the two, newest first; with an offset: that many past the cursor skipped")


# Fields the domain judges (``str | None`` here), each documented as what the domain accepts.
Username = Annotated[str | None, WithJsonSchema(rules.USERNAME)]
Email = Annotated[str | None, WithJsonSchema(rules.EMAIL)]
Password = Annotated[str | None, WithJsonSchema(rules.PASSWORD)]
SignInEmail = Annotated[str | None, WithJsonSchema(rules.SIGN_IN_EMAIL)]
SignInPassword = Annotated[str | None, WithJsonSchema(rules.SIGN_IN_PASSWORD)]
Bio = Annotated[str | None, WithJsonSchema(rules.BIO)]
Image = Annotated[str | None, WithJsonSchema(rules.IMAGE)]
Title = Annotated[str | None, WithJsonSchema(rules.TITLE)]
Description = Annotated[str | None, WithJsonSchema(rules.DESCRIPTION)]
Body = Annotated[str | None, WithJsonSchema(rules.BODY)]
CommentBody = Annotated[str | None, WithJsonSchema(rules.COMMENT)]
Older = Annotated[str | None, WithJsonSchema(rules.cursor(CURSOR.format("older")))]
Newer = Annotated[str | None, WithJsonSchema(rules.cursor(CURSOR.format("newer")))]
Filter = Annotated[str | None, WithJsonSchema(rules.FILTER)]
UserFilter = Annotated[str | None, WithJsonSchema(rules.USER_FILTER)]


class NewUser(BaseModel):
    model_config = request_object("username", "email", "password")
    username: Username = None
    email: Email = None
    password: Password = None


class NewUserBody(BaseModel):
    user: NewUser


class LoginUser(BaseModel):
    model_config = request_object("email", "password")
    email: SignInEmail = None
    password: SignInPassword = None


class LoginBody(BaseModel):
    user: LoginUser


class UserChanges(BaseModel):
    """Omitted fields stay as they are; at least one is needed. "" or null clears bio and image."""

    model_config = request_object(at_least_one=("email", "username", "password", "bio", "image"))
    email: Email = None
    username: Username = None
    password: Password = None
    bio: Bio = None
    image: Image = None


class UserChangesBody(BaseModel):
    user: UserChanges


class NewArticle(BaseModel):
    model_config = request_object("title", "description", "body")
    title: Title = None
    description: Description = None
    body: Body = None
    tagList: Annotated[list[str], WithJsonSchema(rules.TAGS)] = Field(default_factory=list)


class NewArticleBody(BaseModel):
    article: NewArticle


class ArticleChanges(BaseModel):
    """Omitted fields stay; ``tagList: []`` removes every tag, ``tagList: null`` is refused."""

    model_config = request_object()
    title: Title = None
    description: Description = None
    body: Body = None
    tagList: Annotated[list[str] | None, WithJsonSchema(rules.TAGS)] = None


class ArticleChangesBody(BaseModel):
    article: ArticleChanges


class NewComment(BaseModel):
    model_config = request_object("body")
    body: CommentBody = None


class NewCommentBody(BaseModel):
    comment: NewComment


class PageQuery(BaseModel):
    model_config = request_object()
    limit: int = Field(20, ge=1, description=f"page size; above {LIMIT_MAX} it is {LIMIT_MAX}")
    offset: int = Field(0, ge=0, le=OFFSET_MAX)
    before: Older = None
    after: Newer = None


class TagsQuery(BaseModel):
    limit: int = Field(TAGS_MAX, ge=1, le=TAGS_MAX,
                       description=f"the most used tags first, this many (at most {TAGS_MAX}): an "
                                   "answer costs the same however many tags there are")


class ArticleQuery(PageQuery):
    tag: Filter = None
    author: UserFilter = None
    favorited: UserFilter = None


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
