"""Marshmallow building blocks shared by every resource's schemas."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields

CENT = Decimal("0.01")


def rule(problem_of: Callable[[Any], str | None]) -> Callable[[Any], None]:
    """A marshmallow validator from one of salesbot's rules, which return a problem or None."""

    def check(value: Any) -> None:
        problem = problem_of(value)
        if problem:
            raise ValidationError(problem)

    return check


class Money(fields.Decimal):
    """A decimal amount, written as a string so no precision is lost ("19.99")."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(as_string=True, **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        amount = Decimal(value).normalize()
        amount = amount.quantize(CENT) if amount.as_tuple().exponent > -2 else amount  # type: ignore[operator]
        return f"{amount:f}"


class HealthOut(Schema):
    status = fields.Str(required=True)
    schema_revision = fields.Str()
