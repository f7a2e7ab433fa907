"""The operations both faces (site and API) use. They take an AsyncSession and plain values and
return plain records (``records``); each write runs in its own transaction (``transactions.writing``), and
every limit on input is in ``limits``. No Quart import in here."""

from app.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    InvalidCredentials,
    NotFound,
)

__all__ = ["Conflict", "DomainError", "Forbidden", "Invalid", "InvalidCredentials", "NotFound"]
