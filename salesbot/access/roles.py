"""The roles an API key can have (see "Access" in DESIGN.md)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SITE = "site"  # publishable, used from browsers
    SERVER = "server"  # the store's back end
    REP = "rep"  # sales reps
    MARKETER = "marketer"
    ADMIN = "admin"  # everything

    @property
    def publishable(self) -> bool:
        return self is Role.SITE

    @property
    def key_prefix(self) -> str:
        return "pk_" if self.publishable else "sk_"


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        from salesbot.errors import InvalidInput

        choices = ", ".join(role.value for role in Role)
        raise InvalidInput.for_field("role", f"unknown role {value!r}; choose one of {choices}") from None


def may(role: Role, allowed: frozenset[Role]) -> bool:
    """Admins may do everything; everyone else only what a route allows them."""
    return role is Role.ADMIN or role in allowed
