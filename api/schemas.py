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

    # What the OpenAPI document says a Money is: apispec maps a marshmallow Decimal to `number`, but it is
    # written (and best sent) as a string, so that no client's float rounds it.
    DOCUMENTED = {"type": "string", "format": "decimal", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "example": "19.99"}

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {**self.DOCUMENTED, **kwargs.get("metadata", {})}
        super().__init__(as_string=True, **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        amount = Decimal(str(value) if isinstance(value, float) else value).normalize()
        amount = amount.quantize(CENT) if amount.as_tuple().exponent > -2 else amount  # type: ignore[operator]
        return f"{amount:f}"


class HealthOut(Schema):
    status = fields.Str(required=True)
    schema_revision = fields.Str()


class Rows(fields.List):
    """A batch of rows, documented as `schema` objects but passed on as sent, to be checked row by row
    so that one bad row never sinks the others."""

    def __init__(self, schema: type[Schema], *, most: int, noun: str, **kwargs: Any) -> None:
        def size(rows: list[Any]) -> None:
            if not 1 <= len(rows) <= most:
                raise ValidationError(f"send 1 to {most} {noun} per request, not {len(rows)}; split larger batches")

        super().__init__(fields.Nested(schema), required=True, validate=size, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[Any]:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        return value


class Rejected(Schema):
    index = fields.Int(required=True, metadata={"description": "Position of the row in the request (from 0)"})
    reason = fields.Str(required=True)


class BatchReport(Schema):
    created = fields.Int(required=True)
    updated = fields.Int(required=True)
    unchanged = fields.Int(required=True)
    duplicate = fields.Int(required=True, metadata={"description": "Rows repeated within the request"})
    rejected = fields.Int(required=True, attribute="rejected_count")
    errors = fields.List(fields.Nested(Rejected), required=True, attribute="rejected")
