"""Pydantic models for the RealWorld wire format, and the functions that shape domain views into them.

Request fields are optional here on purpose: a missing or blank field is the domain's to judge
("can't be blank", 422), and ``model_fields_set`` tells an omitted field from an explicit null in a
partial update. Names are the spec's camelCase (``tagList``, ``createdAt``) so no casing magic runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from app.domain.views import Account, ArticlePage, ArticleView, CommentView, Profile


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refusing it here keeps a bad byte a 422, not a 500.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and Z, as the spec shows: 2016-02-18T03:22:56.637Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# Requests -------------------------------------------------------------------------------------


class NewUser(BaseModel):
    username: Text | None = None
    email: Text | None = None
    password: Text | None = None


class NewUserBody(BaseModel):
    user: NewUser


class LoginUser(BaseModel):
    email: Text | None = None
    password: Text | None = None


class LoginBody(BaseModel):
    user: LoginUser


class UserChanges(BaseModel):
    """Omitted fields stay as they are; see ``model_fields_set``."""

    email: Text | None = None
    username: Text | None = None
    password: Text | None = None
    bio: Text | None = None
    image: Text | None = None


class UserChangesBody(BaseModel):
    user: UserChanges


class NewArticle(BaseModel):
    title: Text | None = None
    description: Text | None = None
    body: Text | None = None
    tagList: list[Text] | None = Field(default_factory=list)


class NewArticleBody(BaseModel):
    article: NewArticle


class ArticleChanges(BaseModel):
    """Omitted fields stay; ``tagList: []`` removes every tag, ``tagList: null`` is refused."""

    title: Text | None = None
    description: Text | None = None
    body: Text | None = None
    tagList: list[Text] | None = None


class ArticleChangesBody(BaseModel):
    article: ArticleChanges


class NewComment(BaseModel):
    body: Text | None = None


class NewCommentBody(BaseModel):
    comment: NewComment


class ArticleQuery(BaseModel):
    tag: Text | None = None
    author: Text | None = None
    favorited: Text | None = None
    limit: int = Field(20, ge=1)  # above the cap it is capped, not refused
    offset: int = Field(0, ge=0, le=2**31 - 1)


class PageQuery(BaseModel):
    limit: int = Field(20, ge=1)
    offset: int = Field(0, ge=0, le=2**31 - 1)


# Responses ------------------------------------------------------------------------------------


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
    createdAt: str
    updatedAt: str
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
    id: int
    createdAt: str
    updatedAt: str
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


def user_envelope(account: Account, token: str) -> UserEnvelope:
    return UserEnvelope(user=UserOut(email=account.email, token=token, username=account.username,
                                     bio=account.bio, image=account.image))


def profile_out(profile: Profile) -> ProfileOut:
    return ProfileOut(username=profile.username, bio=profile.bio, image=profile.image,
                      following=profile.following)


def _summary_fields(view: ArticleView) -> dict[str, object]:
    return {
        "slug": view.slug,
        "title": view.title,
        "description": view.description,
        "tagList": view.tags,
        "createdAt": timestamp(view.created_at),
        "updatedAt": timestamp(view.updated_at),
        "favorited": view.favorited,
        "favoritesCount": view.favorites_count,
        "author": profile_out(view.author),
    }


def article_envelope(view: ArticleView) -> ArticleEnvelope:
    article = ArticleOut.model_validate({**_summary_fields(view), "body": view.body or ""})
    return ArticleEnvelope(article=article)


def articles_envelope(page: ArticlePage) -> ArticlesEnvelope:
    return ArticlesEnvelope(
        articles=[ArticleSummary.model_validate(_summary_fields(view)) for view in page.articles],
        articlesCount=page.total,
    )


def comment_out(view: CommentView) -> CommentOut:
    return CommentOut(id=view.id, createdAt=timestamp(view.created_at),
                      updatedAt=timestamp(view.updated_at), body=view.body,
                      author=profile_out(view.author))
