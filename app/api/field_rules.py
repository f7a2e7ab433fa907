"""What each request field of the API accepts, as JSON Schema, for the OpenAPI document.

The request models stay lenient at run time (a missing or null field reaches the domain, which
reports every blank field at once with the site's words); these schemas document exactly what the
domain then accepts, so that a client, or schemathesis, can tell a request that will be taken from
one that will not. Each rule mirrors a check in ``app.domain`` (users, articles, comments, text),
with the same limits from ``app.domain.limits``; ``tests/unit/test_api_field_rules.py`` holds them to
the domain's own checks. Patterns are valid as ECMAScript and as Python regular expressions.
"""

from __future__ import annotations

from typing import Any

from app.domain.cursors import CURSOR_PATTERN
from app.domain.limits import (
    BIO_MAX,
    BODY_MAX,
    COMMENT_MAX,
    DESCRIPTION_MAX,
    EMAIL_MAX,
    IMAGE_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    TAG_MAX,
    TAGS_PER_ARTICLE,
    TITLE_MAX,
    USERNAME_MAX,
)

Schema = dict[str, Any]


def _white_space() -> str:
    """The characters Python's str.strip() drops (which the domain strips), as a class body of
    ``\\uXXXX`` escapes: regular expressions' own ``\\s`` differs between Python (which counts
    U+001C-U+001F) and ECMAScript (which counts U+FEFF)."""
    codes = [code for code in range(0x10000) if chr(code).isspace()]
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


_WS = _white_space()
WS = f"[{_WS}]"  # one white-space character

# Any character but NUL (app.domain.text). A lone surrogate (sent as a "\ud800" escape) is refused
# too, but it is no character of UTF-8 text: the patterns leave it out, as tools cannot use them
# with it (schemathesis drops such a pattern).
STORABLE = r"[^\u0000]"
SHOWN = f"[^{_WS}\\u0000]"  # and not white space either


def text(limit: int) -> Schema:
    """Text that is not blank (white space alone), at most ``limit`` characters."""
    return {"type": "string", "maxLength": limit, "pattern": f"^{STORABLE}*{SHOWN}{STORABLE}*$"}


USERNAME: Schema = {
    "type": "string",
    "description": f"1 to {USERNAME_MAX} ASCII letters, digits, '.', '_' or '-', at least one a letter "
                   "or digit; white space around it is dropped",
    "pattern": rf"^{WS}*(?=[A-Za-z0-9_.-]*[A-Za-z0-9])[A-Za-z0-9_.-]{{1,{USERNAME_MAX}}}{WS}*$",
}
_LOCAL = f"[^@{_WS}\\u0000]+"
EMAIL: Schema = {
    "type": "string",
    "description": f"an address, at most {EMAIL_MAX} characters once lower-cased; white space "
                   "around it is dropped",
    "pattern": rf"^{WS}*(?=[^{_WS}]{{1,{EMAIL_MAX}}}{WS}*$){_LOCAL}@{_LOCAL}\.{_LOCAL}{WS}*$",
}
PASSWORD: Schema = {"type": "string", "minLength": PASSWORD_MIN, "maxLength": PASSWORD_MAX,
                    "pattern": f"^{STORABLE}*$"}
SIGN_IN_EMAIL: Schema = {"type": "string", "pattern": f"[^{_WS}]"}
SIGN_IN_PASSWORD: Schema = {"type": "string", "minLength": 1}


def _either_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


_PICTURE = (_either_case("data:image/") + "(?:" + "|".join(map(_either_case, ("png", "jpeg", "gif", "webp")))
            + ")" + _either_case(";base64,") + "[A-Za-z0-9+/]+={0,2}")
_ADDRESS = _either_case("http") + "[Ss]?://" + f"{STORABLE}*"


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


BIO: Schema = nullable({"type": "string", "maxLength": BIO_MAX, "pattern": f"^{STORABLE}*$",
                        "description": "empty or null: no bio"})
IMAGE: Schema = nullable({
    "type": "string", "maxLength": IMAGE_MAX,
    "description": "an http:// or https:// address, or a data:image/png, jpeg, gif or webp URL in "
                   "base64; empty or null: no image",
    "pattern": rf"^{WS}*$|^{WS}*(?:{_ADDRESS}|{_PICTURE}){WS}*$",
})
TAG: Schema = {"type": "string",
               "description": f"at most {TAG_MAX} characters, white space around it dropped",
               "pattern": rf"^{WS}*{SHOWN}(?:{STORABLE}{{0,{TAG_MAX - 2}}}{SHOWN})?{WS}*$"}
TAGS: Schema = {"type": "array", "items": TAG, "maxItems": TAGS_PER_ARTICLE,
                "description": f"at most {TAGS_PER_ARTICLE} (the same tag twice is kept once)"}

TITLE, DESCRIPTION, BODY, COMMENT = text(TITLE_MAX), text(DESCRIPTION_MAX), text(BODY_MAX), text(COMMENT_MAX)


# Any query value with a NUL is refused (422) before the view (app.api.validation).
FILTER: Schema = {"type": "string", "pattern": f"^{STORABLE}*$", "description": "empty: no filter"}
USER_FILTER: Schema = {**FILTER, "description": "a username; empty: no filter"}


def cursor(description: str) -> Schema:
    return {"type": "string", "pattern": CURSOR_PATTERN, "description": description}


def at_least_one_of(*names: str) -> Schema:
    """An object schema's rule: one of ``names`` at least must be given."""
    return {"anyOf": [{"required": [name]} for name in names]}
