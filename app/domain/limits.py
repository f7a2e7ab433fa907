"""Every limit on input and the words that refuse it, once. The forms, the API's schemas and the
domain's checks all read them from here; only the domain judges."""

from __future__ import annotations

ID_MAX = 2**31 - 1  # ids are 32-bit integers on both backends: a larger one cannot exist

USERNAME_MAX, EMAIL_MAX = 64, 254
PASSWORD_MIN, PASSWORD_MAX = 8, 256
BIO_MAX, IMAGE_MAX = 10_000, 1024

TITLE_MAX, DESCRIPTION_MAX, BODY_MAX = 255, 1024, 100_000
TAG_MAX, TAGS_PER_ARTICLE = 64, 20
COMMENT_MAX = 10_000

LIMIT_MAX = 100  # the most items one page of a list can hold
OFFSET_MAX = ID_MAX
TAGS_MAX = 1000  # /api/tags: the most used this many, not every tag there is

BLANK = "can't be blank"


def too_long(limit: int) -> str:
    return f"is too long (maximum is {limit} characters)"


def too_short(limit: int) -> str:
    return f"is too short (minimum is {limit} characters)"
