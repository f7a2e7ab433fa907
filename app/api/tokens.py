"""API tokens: HS256 JWTs signed with the app's secret key, carrying the user id, the account's
token epoch (a password change or "sign out everywhere" moves it on: app.domain.sessions) and an
expiry."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt

from app.domain.limits import ID_MAX
from app.domain.records import Account
from app.infra.settings import Settings

ALGORITHM = "HS256"


class TokenError(Exception):
    """A token that cannot be trusted; ``reason`` completes "token ..." for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def issue_token(settings: Settings, account: Account, *, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    # jti: two tokens issued in the same second differ, so one can be kept while the other dies.
    claims = {"sub": str(account.id), "epoch": account.token_epoch, "iat": now,
              "jti": secrets.token_urlsafe(9),
              "exp": now + timedelta(seconds=settings.jwt_expiry_seconds)}
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def fingerprint(token: str) -> str:
    """What the account keeps of the token that changed its password (never the token itself)."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()[:64]


def read_token(settings: Settings, token: str) -> tuple[int, int]:
    """The user id a token vouches for and the account epoch it was issued under, or TokenError
    (expired, tampered, malformed). The caller compares the epoch with the account's."""
    user_id, epoch, expires = _verified(settings.secret_key, token)
    if expires <= time.time():
        raise TokenError("has expired")
    return user_id, epoch


@lru_cache(maxsize=4096)
def _verified(secret: str, token: str) -> tuple[int, int, float]:
    """A token's user id and expiry, once its signature and claims check out. Remembered (by the
    exact token and secret) because a client sends the same token with every request, and
    verifying it costs more than the query that loads its user; a refused token is not remembered."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM],
                            options={"require": ["exp", "sub", "epoch"]})
    except jwt.ExpiredSignatureError:
        raise TokenError("has expired") from None
    except jwt.InvalidTokenError:
        raise TokenError("is invalid") from None
    subject = claims["sub"]
    # Ids are 32-bit on both backends (ID_MAX): a larger one names nobody, and PostgreSQL's driver
    # would refuse it as a parameter (a 500) rather than find no account.
    if not isinstance(subject, str) or not (subject.isascii() and subject.isdigit()) \
            or len(subject) > 10 or not 1 <= int(subject) <= ID_MAX:
        raise TokenError("is invalid")
    epoch = claims["epoch"]
    if not isinstance(epoch, int) or isinstance(epoch, bool):
        raise TokenError("is invalid")
    return int(subject), epoch, float(claims["exp"])
