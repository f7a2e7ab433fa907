"""The site's session cookie: Quart's signed-cookie sessions, with the signer made once per secret
rather than once per request. Opening the session runs for every request, the health probe's
included, so building an itsdangerous serializer each time was a cost every request paid; the
cookie itself only names a server-side session (app/domain/sessions.py), which signing out ends.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import URLSafeTimedSerializer
from quart.sessions import SecureCookieSessionInterface


class SessionInterface(SecureCookieSessionInterface):
    """Quart's signed-cookie sessions, with the signer made once per secret rather than once per
    request (opening the session runs for every request, the health probe's included)."""

    def __init__(self) -> None:
        self._signers: dict[tuple[str, ...], URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Any) -> URLSafeTimedSerializer | None:
        keys = (*(app.config.get("SECRET_KEY_FALLBACKS") or ()), app.secret_key)
        if keys not in self._signers:
            self._signers[keys] = super().get_signing_serializer(app)
        return self._signers[keys]
