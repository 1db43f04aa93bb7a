"""The one exception tree of salesbot; the API maps each class to a status code in one table.

SalesbotError
├── InvalidInput          a value a client sent is wrong; `errors` names each field
├── NotFound              the thing asked for does not exist
├── Unauthenticated       no key, an unknown key or a revoked key
├── PermissionDenied      a valid key whose role may not do this
├── Conflict              the thing is in a state that does not allow this (a closed conversation)
└── Unavailable           a dependency (database, schema) is not ready
"""

from __future__ import annotations


class SalesbotError(Exception):
    """Base of every error salesbot raises on purpose."""

    title = "Salesbot error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(SalesbotError):
    title = "Invalid input"

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or {}

    @classmethod
    def for_field(cls, field: str, message: str) -> InvalidInput:
        return cls(f"{field}: {message}", {field: [message]})


class NotFound(SalesbotError):
    title = "Not found"


class Unauthenticated(SalesbotError):
    title = "Unauthenticated"


class PermissionDenied(SalesbotError):
    title = "Permission denied"


class Conflict(SalesbotError):
    title = "Conflict"


class Unavailable(SalesbotError):
    title = "Service unavailable"
