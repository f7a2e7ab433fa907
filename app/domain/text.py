"""Text every store and lookup can take: no NUL (PostgreSQL refuses it in text) and no lone
UTF-16 surrogates (no database driver or password hasher can encode them)."""

from __future__ import annotations

from app.domain.errors import Invalid


def is_clean(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_text(field: str, value: str) -> str:
    if not is_clean(value):
        raise Invalid({field: ["contains characters that are not allowed"]})
    return value
