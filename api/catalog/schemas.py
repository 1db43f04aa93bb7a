"""What catalog requests and responses look like on the wire."""

from __future__ import annotations

from marshmallow import Schema, fields, pre_dump, validate

from api.schemas import Money, Rejected, Rows, rule
from salesbot.catalog import rules

MAX_PAGE_SIZE = 200
MAX_BATCH = 1000


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


class ItemWithCountsOut(ItemOut):
    counts = fields.Dict(
        keys=fields.Str(),
        values=fields.Int(),
        required=True,
        metadata={"description": "How many events of each type the item has had, e.g. view and purchase"},
    )

    @pre_dump
    def flatten(self, described, **_kwargs):
        return {column: getattr(described.item, column) for column in self.fields if column != "counts"} | {
            "counts": described.counts
        }


class ItemRow(ItemIn):
    item_id = fields.Str(required=True)


class ItemBatchIn(Schema):
    items = Rows(ItemRow, most=MAX_BATCH, noun="items")


class PageQuery(Schema):
    page_size = fields.Int(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))
    cursor = fields.Str(load_default=None, metadata={"description": "`next_cursor` of the previous page"})


class ItemPageQuery(PageQuery):
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


class CustomerRow(CustomerIn):
    customer_id = fields.Str(required=True)


class CustomerBatchIn(Schema):
    customers = Rows(CustomerRow, most=MAX_BATCH, noun="customers")


class EventIn(Schema):
    event_id = fields.Str(metadata={"description": "Your id for the event; sending it again changes nothing"})
    customer_id = fields.Str(metadata={"description": "A known or new customer (created on the fly)"})
    visitor_id = fields.Str(metadata={"description": "An anonymous visitor, when there is no customer_id"})
    item_id = fields.Str(required=True)
    type = fields.Str(required=True, metadata={"description": "view, click, add_to_cart, purchase, rating, ..."})
    value = fields.Float(metadata={"description": "Quantity, or the rating for `rating` events"})
    occurred_at = fields.DateTime(metadata={"description": "When it happened (ISO 8601); default now"})
    recommendation_id = fields.Str(metadata={"description": "The recommendation it came from, if any"})
    offer_id = fields.Str(metadata={"description": "purchase: the offer used on it (redeems it once)"})
    code = fields.Str(metadata={"description": "purchase: the offer code used on it, instead of offer_id"})


class EventBatchIn(Schema):
    events = Rows(EventIn, most=MAX_BATCH, noun="events")


class EventReport(Schema):
    accepted = fields.Int(required=True, attribute="created")
    duplicate = fields.Int(required=True, metadata={"description": "Already recorded (same event_id)"})
    rejected = fields.Int(required=True, attribute="rejected_count")
    errors = fields.List(fields.Nested(Rejected), required=True, attribute="rejected")


class EventOut(EventIn):
    occurred_at = fields.DateTime(required=True)
    event_id = fields.Str(required=True)
    customer_id = fields.Str(allow_none=True)
    visitor_id = fields.Str(allow_none=True)
    value = fields.Float(allow_none=True)
    recommendation_id = fields.Str(allow_none=True)


class EventPageOut(Schema):
    events = fields.List(fields.Nested(EventOut), required=True, attribute="rows")
    next_cursor = fields.Str(required=True, allow_none=True)
