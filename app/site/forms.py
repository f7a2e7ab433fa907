"""WTForms forms of the site. Each carries the CSRF token (quart-wtforms); the domain layer does
the real validation, and its messages are put beside the same fields (common.add_errors)."""

from __future__ import annotations

import re

from quart_wtf import QuartForm

# WTForms ships no type hints (and types-WTForms is not a dependency).
from wtforms import (  # type: ignore[import-untyped]
    EmailField,
    HiddenField,
    PasswordField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import InputRequired, Length, Optional  # type: ignore[import-untyped]

from app.domain.articles import BODY_MAX, DESCRIPTION_MAX, TITLE_MAX
from app.domain.comments import COMMENT_MAX
from app.domain.users import BIO_MAX, IMAGE_MAX, PASSWORD_MAX, PASSWORD_MIN

BLANK = "can't be blank"


class SignInForm(QuartForm):
    email = EmailField("Email", validators=[InputRequired(BLANK), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired(BLANK), Length(max=PASSWORD_MAX)])
    next = HiddenField()


class SignUpForm(QuartForm):
    username = StringField("Username", validators=[InputRequired(BLANK), Length(max=64)])
    email = EmailField("Email", validators=[InputRequired(BLANK), Length(max=254)])
    password = PasswordField("Password", validators=[
        InputRequired(BLANK), Length(min=PASSWORD_MIN, max=PASSWORD_MAX,
                                     message=f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")])
    next = HiddenField()


class SettingsForm(QuartForm):
    image = URLField("URL of profile picture", validators=[Optional(), Length(max=IMAGE_MAX)])
    username = StringField("Username", validators=[InputRequired(BLANK), Length(max=64)])
    bio = TextAreaField("Short bio about you", validators=[Optional(), Length(max=BIO_MAX)])
    email = EmailField("Email", validators=[InputRequired(BLANK), Length(max=254)])
    password = PasswordField("New password", validators=[
        Optional(), Length(min=PASSWORD_MIN, max=PASSWORD_MAX,
                           message=f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")])


class ArticleForm(QuartForm):
    title = StringField("Article title", validators=[InputRequired(BLANK), Length(max=TITLE_MAX)])
    description = StringField("What's this article about?",
                              validators=[InputRequired(BLANK), Length(max=DESCRIPTION_MAX)])
    body = TextAreaField("Write your article (in markdown)",
                         validators=[InputRequired(BLANK), Length(max=BODY_MAX)])
    tags = StringField("Enter tags", validators=[Optional(), Length(max=2000)])

    def tag_list(self) -> list[str]:
        """"python, asyncio web" -> ["python", "asyncio", "web"] (commas or spaces separate)."""
        return [tag for tag in re.split(r"[,\s]+", self.tags.data or "") if tag]


class CommentForm(QuartForm):
    body = TextAreaField("Write a comment...", validators=[InputRequired(BLANK),
                                                           Length(max=COMMENT_MAX)])

