"""What catalog requests and responses look like on the wire."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import Money, rule
from salesbot.catalog import rules

MAX_PAGE_SIZE = 200


class Attributes(fields.Dict):
    def __init__(self, **kwargs):
        super().__init__(
            keys=fields.Str(),
            load_default=dict,
            validate=rule(rules.attributes_problem),
            metadata={"description": "Free-form facts: string keys, scalar or list-of-scalar values"},
            **kwargs,
        )


class ItemIn(Schema):
    title = fields.Str(required=True, validate=validate.Length(min=1, max=500))
    description = fields.Str(load_default="", validate=validate.Length(max=20_000))
    category = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=1, max=200))
    brand = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=1, max=200))
    price = Money(required=True, validate=rule(rules.price_problem))
    currency = fields.Str(required=True, validate=rule(rules.currency_problem))
    in_stock = fields.Bool(load_default=True)
    attributes = Attributes()


class ItemOut(ItemIn):
    item_id = fields.Str(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class ItemPageQuery(Schema):
    page_size = fields.Int(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))
    cursor = fields.Str(load_default=None, metadata={"description": "`next_cursor` of the previous page"})
    category = fields.Str(load_default=None)
    in_stock = fields.Bool(load_default=None)


class ItemPageOut(Schema):
    items = fields.List(fields.Nested(ItemOut), required=True, attribute="rows")
    next_cursor = fields.Str(
        required=True, allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null at the end"}
    )


class CustomerIn(Schema):
    segment = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100))
    country = fields.Str(load_default=None, allow_none=True, validate=rule(rules.country_problem))
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=320))
    attributes = Attributes()


class CustomerOut(CustomerIn):
    customer_id = fields.Str(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
