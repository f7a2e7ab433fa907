"""The RealWorld shapes of the domain's records: what the API answers and what live events carry
(app.domain.live writes them into the event log, so they are built here, not in app/api)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.domain.records import ArticleRecord, CommentRecord, Profile


def timestamp(moment: datetime) -> str:
    """ISO 8601 with milliseconds and Z, as the spec shows: 2016-02-18T03:22:56.637Z. The domain's
    datetimes are always UTC."""
    return moment.isoformat(timespec="milliseconds")[:23] + "Z"


def profile_json(profile: Profile) -> dict[str, Any]:
    return {"username": profile.username, "bio": profile.bio, "image": profile.image,
            "following": profile.following}


def article_json(record: ArticleRecord) -> dict[str, Any]:
    """The article without its body, as lists show it; ``article_envelope`` adds the body."""
    return {
        "slug": record.slug, "title": record.title, "description": record.description,
        "tagList": record.tags, "createdAt": timestamp(record.created_at),
        "updatedAt": timestamp(record.updated_at), "favorited": record.favorited,
        "favoritesCount": record.favorites_count, "author": profile_json(record.author),
    }


def comment_json(record: CommentRecord) -> dict[str, Any]:
    return {"id": record.id, "createdAt": timestamp(record.created_at),
            "updatedAt": timestamp(record.updated_at), "body": record.body,
            "author": profile_json(record.author)}
