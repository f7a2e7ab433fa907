"""The operations both faces (site and API) use. They take an AsyncSession and plain values and
return plain dataclasses; each write commits its own unit of work. No Quart import in here."""

from app.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    InvalidCredentials,
    NotFound,
)

__all__ = ["Conflict", "DomainError", "Forbidden", "Invalid", "InvalidCredentials", "NotFound"]
