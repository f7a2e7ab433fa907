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
from app.domain.users import BIO_MAX, EMAIL_MAX, IMAGE_MAX, PASSWORD_MAX, PASSWORD_MIN

BLANK = "can't be blank"


class SignInForm(QuartForm):
    email = EmailField("Email", validators=[InputRequired(BLANK), Length(max=EMAIL_MAX)])
    password = PasswordField("Password", validators=[InputRequired(BLANK), Length(max=PASSWORD_MAX)])
    next = HiddenField()


class SignUpForm(QuartForm):
    username = StringField("Username", validators=[InputRequired(BLANK), Length(max=64)])
    email = EmailField("Email", validators=[InputRequired(BLANK), Length(max=EMAIL_MAX)])
    password = PasswordField("Password", validators=[
        InputRequired(BLANK), Length(min=PASSWORD_MIN, max=PASSWORD_MAX,
                                     message=f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")])
    next = HiddenField()


class SettingsForm(QuartForm):
    image = URLField("Picture URL", validators=[Optional(), Length(max=IMAGE_MAX)])
    username = StringField("Username", validators=[InputRequired(BLANK), Length(max=64)])
    bio = TextAreaField("Bio", validators=[Optional(), Length(max=BIO_MAX)])
    email = EmailField("Email", validators=[InputRequired(BLANK), Length(max=EMAIL_MAX)])
    password = PasswordField("New password", validators=[
        Optional(), Length(min=PASSWORD_MIN, max=PASSWORD_MAX,
                           message=f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")])


class ArticleForm(QuartForm):
    title = StringField("Title", validators=[InputRequired(BLANK), Length(max=TITLE_MAX)])
    description = StringField("Description",
                              validators=[InputRequired(BLANK), Length(max=DESCRIPTION_MAX)])
    body = TextAreaField("Body",
                         validators=[InputRequired(BLANK), Length(max=BODY_MAX)])
    tags = StringField("Tags", validators=[Optional(), Length(max=2000)])

    def tag_list(self) -> list[str]:
        return parse_tags(self.tags.data or "")


# Commas or spaces separate tags. A tag with a space, comma or quote in it (the API allows them) is
# written in quotes, a quote inside doubled: "machine learning", "say ""hi""".
TAG_RE = re.compile(r'"((?:[^"]|"")*)"|([^\s,"]+)')


def parse_tags(text: str) -> list[str]:
    """'python, asyncio "machine learning"' -> ["python", "asyncio", "machine learning"]."""
    tags = ((quoted.replace('""', '"') if quoted else bare) for quoted, bare in TAG_RE.findall(text))
    return [tag for tag in (t.strip() for t in tags) if tag]


def tags_text(tags: list[str]) -> str:
    """The editor's text for ``tags``; parse_tags gives them back unchanged."""
    return " ".join('"' + tag.replace('"', '""') + '"' if re.search(r'[\s,"]', tag) else tag
                    for tag in tags)


class CommentForm(QuartForm):
    body = TextAreaField("Comment", validators=[InputRequired(BLANK),
                                                           Length(max=COMMENT_MAX)])

