"""The OpenAPI document's rule for each request field accepts exactly what the domain accepts.

Each documented schema (app/api/field_rules.py) is checked against the domain's own check of that
field, both ways, over generated strings: strings built from the schema's pattern (which the
domain must take), strings of awkward characters (white space, NUL, letters of
other scripts) and strings at and around each length limit. A rule stricter than the domain makes
clients refuse what the API takes; a looser one promises what the API refuses (a 422 that
schemathesis reports as "valid data rejected").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from app.api import field_rules as rules
from app.domain import articles, limits, users
from app.domain.cursors import parse_cursor
from app.domain.errors import Invalid

pytestmark = pytest.mark.once  # the document's rules and the domain's checks: no database

# No lone surrogates: they are not UTF-8 text (the domain refuses them; the patterns leave them out).
AWKWARD = " \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000\ufeff\x00" "aZ09_.-@:/+=;,İßé漢🙂"
PREFIXES = ["", " ", "http://", "HTTPS://", "data:image/png;base64,", "DATA:IMAGE/WEBP;BASE64,",
            "data:image/svg+xml;base64,", "javascript:", "a@b.c", "x@y"]


def _judged(check: Callable[[str], Any]) -> Callable[[str], bool]:
    def accepts(value: str) -> bool:
        try:
            check(value)
        except Invalid:
            return False
        return True
    return accepts


def _text_check(field: str, limit: int) -> Callable[[str], Any]:
    return lambda value: articles._required(field, value, limit)


CASES: dict[str, tuple[dict[str, Any], Callable[[str], Any], int]] = {
    # name: (schema, the domain's check, the length around which to try)
    "username": (rules.USERNAME, users.clean_username, limits.USERNAME_MAX),
    "email": (rules.EMAIL, users.clean_email, limits.EMAIL_MAX),
    "password": (rules.PASSWORD, users.clean_password, limits.PASSWORD_MAX),
    "bio": (rules.BIO, lambda v: users._optional_text("bio", v, limits.BIO_MAX), limits.BIO_MAX),
    "image": (rules.IMAGE, lambda v: users._optional_text("image", v, limits.IMAGE_MAX), limits.IMAGE_MAX),
    "title": (rules.TITLE, _text_check("title", limits.TITLE_MAX), limits.TITLE_MAX),
    "description": (rules.DESCRIPTION, _text_check("description", limits.DESCRIPTION_MAX),
                    limits.DESCRIPTION_MAX),
    "comment": (rules.COMMENT, _text_check("body", limits.COMMENT_MAX), limits.COMMENT_MAX),
    "tag": (rules.TAG, lambda v: articles.clean_tags([v]), limits.TAG_MAX),
    "cursor": (rules.cursor("c"), lambda v: parse_cursor("before", v), 29),
}


def _strings(schema: dict[str, Any], around: int) -> st.SearchStrategy[str]:
    string_schema = schema["anyOf"][0] if "anyOf" in schema else schema
    awkward = st.text(alphabet=AWKWARD, max_size=12)
    near_limit = st.tuples(st.sampled_from(PREFIXES), st.integers(around - 30, around + 2),
                           st.sampled_from("a \x00é")).map(lambda t: t[0] + t[2] * (t[1] - len(t[0])))
    pieces = st.tuples(st.sampled_from(PREFIXES), awkward, st.sampled_from(PREFIXES), awkward)
    built = [st.from_regex(string_schema["pattern"])] if "pattern" in string_schema else []
    return st.one_of(*built, awkward, near_limit, pieces.map("".join))


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_documented_field_accepts_what_the_domain_accepts(name: str) -> None:
    schema, check, around = CASES[name]
    valid, accepts = Draft202012Validator(schema).is_valid, _judged(check)

    @settings(max_examples=250, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(_strings(schema, around))
    def agree(value: str) -> None:
        if name == "email" and len(value.lower()) != len(value):
            return  # the one case documented in words: the limit counts the lower-cased address
        assert valid(value) == accepts(value), (valid(value), value[:80])

    agree()


def test_the_documented_tags_and_their_number() -> None:
    valid = Draft202012Validator(rules.TAGS).is_valid
    twenty, too_many = ["a"] * limits.TAGS_PER_ARTICLE, ["a"] * (limits.TAGS_PER_ARTICLE + 1)
    assert valid(twenty) and articles.clean_tags(twenty) == ["a"]
    assert not valid(too_many)
    with pytest.raises(Invalid):
        articles.clean_tags(too_many)
