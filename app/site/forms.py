"""WTForms forms of the site. Each carries the CSRF token (quart-wtforms) and says which fields must
be filled in; everything else (lengths, formats, what is taken) is the domain's to judge, and its
messages are put beside the same fields (domain_errors.add_errors), in the words the API uses too."""

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
from wtforms.validators import InputRequired, Optional  # type: ignore[import-untyped]

from app.domain.limits import BLANK

FILLED = [InputRequired(BLANK)]


class SignInForm(QuartForm):
    email = EmailField("Email", validators=FILLED)
    password = PasswordField("Password", validators=FILLED)
    next = HiddenField()


class SignUpForm(QuartForm):
    username = StringField("Username", validators=FILLED)
    email = EmailField("Email", validators=FILLED)
    password = PasswordField("Password", validators=FILLED)
    next = HiddenField()


class SettingsForm(QuartForm):
    image = URLField("Picture URL", validators=[Optional()])
    username = StringField("Username", validators=FILLED)
    bio = TextAreaField("Bio", validators=[Optional()])
    email = EmailField("Email", validators=FILLED)
    password = PasswordField("New password", validators=[Optional()])


class ArticleForm(QuartForm):
    title = StringField("Title", validators=FILLED)
    description = StringField("Description", validators=FILLED)
    body = TextAreaField("Body", validators=FILLED)
    tags = StringField("Tags", validators=[Optional()])

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
    body = TextAreaField("Comment", validators=FILLED)

