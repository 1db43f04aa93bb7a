"""Offers (marketer): what the bot may offer and to whom, every change kept; redemptions (server) on orders."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.access import requires
from api.wiring import salesbot, uow
from salesbot.access.roles import Role
from salesbot.offers import offers as catalog
from salesbot.offers import redemptions
from salesbot.offers.conditions import VARIABLES

blp = Blueprint("offers", __name__, url_prefix="/v1/offers", description="Offers marketers define and the bot shows")

RULE = (
    "JsonLogic (jsonlogic.com) over these variables: "
    + ", ".join(sorted(VARIABLES))
    + '. Example: {"and": [{">=": [{"var": "lead.budget.amount"}, 10000]}, '
    '{"==": [{"var": "lead.budget.currency"}, "EUR"]}]}'
)


class OfferIn(Schema):
    name = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.Str(required=True, validate=validate.OneOf(catalog.KINDS))
    value = fields.Float(allow_none=True, metadata={"description": "percent: 0-100; amount: money off"})
    currency = fields.Str(allow_none=True, metadata={"description": "ISO 4217; needed for amount offers"})
    terms = fields.Str(validate=validate.Length(max=2000), metadata={"description": "Text the bot may quote"})
    code = fields.Str(allow_none=True, metadata={"description": "One code shared by everyone"})
    codes = fields.Str(
        validate=validate.OneOf(["shared", "unique"]),
        metadata={"description": "unique: a single-use code made for each visitor (then leave out `code`)"},
    )
    starts_at = fields.AwareDateTime(allow_none=True)
    ends_at = fields.AwareDateTime(allow_none=True)
    priority = fields.Int(validate=validate.Range(min=-1000, max=1000), metadata={"description": "Higher wins"})
    stackable = fields.Bool()
    eligibility = fields.Raw(allow_none=True, metadata={"description": RULE})
    max_redemptions = fields.Int(allow_none=True)
    max_per_customer = fields.Int(allow_none=True)
    max_discount_total = fields.Float(allow_none=True, metadata={"description": "Money the offer may give away"})


class OfferPatch(OfferIn):
    name = fields.Str(validate=validate.Length(min=1, max=200))
    kind = fields.Str(validate=validate.OneOf(catalog.KINDS))


class OfferOut(Schema):
    id = fields.Str(required=True)
    name = fields.Str(required=True)
    kind = fields.Str(required=True)
    value = fields.Float(allow_none=True)
    currency = fields.Str(allow_none=True)
    terms = fields.Str(required=True)
    code = fields.Str(allow_none=True)
    codes = fields.Function(lambda offer: "unique" if offer.unique_codes else "shared")
    starts_at = fields.DateTime(allow_none=True)
    ends_at = fields.DateTime(allow_none=True)
    priority = fields.Int(required=True)
    stackable = fields.Bool(required=True)
    eligibility = fields.Raw(allow_none=True)
    max_redemptions = fields.Int(allow_none=True)
    max_per_customer = fields.Int(allow_none=True)
    max_discount_total = fields.Float(allow_none=True)
    redeemed = fields.Int(required=True)
    discount_spent = fields.Float(required=True)
    version = fields.Int(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class ChangeOut(Schema):
    action = fields.Str(required=True)
    changed_by = fields.Str(allow_none=True, metadata={"description": "The API key that made the change"})
    changed_at = fields.DateTime(required=True)
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class RedemptionIn(Schema):
    redemption_id = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "Yours (e.g. the order id): sending it again changes nothing"},
    )
    customer_id = fields.Str(validate=validate.Length(min=1, max=128))
    visitor_id = fields.Str(validate=validate.Length(min=1, max=128))
    code = fields.Str(allow_none=True, validate=validate.Length(max=64))
    order_value = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1e9))


class RedemptionOut(Schema):
    redemption_id = fields.Str(required=True)
    offer_id = fields.Str(required=True)
    customer_id = fields.Str(allow_none=True)
    visitor_id = fields.Str(allow_none=True)
    code = fields.Str(allow_none=True)
    order_value = fields.Float(allow_none=True)
    discount = fields.Float(required=True)
    created_at = fields.Str(required=True)


def _values(body: dict) -> dict:
    codes = body.pop("codes", None)
    if codes is not None:
        body["unique_codes"] = codes == "unique"
    return body


@blp.route("")
class Offers(MethodView):
    @requires(Role.MARKETER)
    @blp.response(200, OfferOut(many=True))
    def get(self):
        """Every live offer, highest priority first"""
        return catalog.get_all(uow=uow())

    @requires(Role.MARKETER)
    @blp.arguments(OfferIn)
    @blp.response(201, OfferOut)
    def post(self, body):
        """A new offer; an eligibility rule with an unknown variable or operator is refused, naming its path"""
        offer = catalog.create(uow=uow(), changed_by=g.key_holder.key_id, **_values(body))
        salesbot().desk.refresh()
        return offer


@blp.route("/<offer_id>")
class OneOffer(MethodView):
    @requires(Role.MARKETER)
    @blp.response(200, OfferOut)
    def get(self, offer_id):
        """One offer with its counters (redeemed, discount spent)"""
        return catalog.get(uow=uow(), offer_id=offer_id)

    @requires(Role.MARKETER)
    @blp.arguments(OfferPatch)
    @blp.response(200, OfferOut)
    def patch(self, body, offer_id):
        """Change an offer; the change is kept with who made it"""
        offer = catalog.update(uow=uow(), offer_id=offer_id, changed_by=g.key_holder.key_id, **_values(body))
        salesbot().desk.refresh()
        return offer

    @requires(Role.MARKETER)
    @blp.response(204)
    def delete(self, offer_id):
        """Stop showing an offer (its history, exposures and redemptions stay)"""
        catalog.delete(uow=uow(), offer_id=offer_id, changed_by=g.key_holder.key_id)
        salesbot().desk.refresh()


@blp.route("/<offer_id>/changes")
class Changes(MethodView):
    @requires(Role.MARKETER)
    @blp.response(200, ChangeOut(many=True))
    def get(self, offer_id):
        """Every change to the offer, oldest first: who, when, before and after"""
        catalog.get(uow=uow(), offer_id=offer_id)
        return catalog.changes(uow=uow(), subject_id=offer_id)


@blp.route("/<offer_id>/redemptions")
class Redemptions(MethodView):
    @requires(Role.SERVER)
    @blp.arguments(RedemptionIn)
    @blp.response(201, RedemptionOut)
    @blp.alt_response(200, schema=RedemptionOut, description="This redemption id was already recorded")
    def post(self, body, offer_id):
        """Use the offer on an order: 409 when a cap or budget is spent or a single-use code was used, 422 for a
        code that is not the offer's"""
        unit = redemptions.unit_key(customer_id=body.get("customer_id"), visitor_id=body.get("visitor_id"))
        redemption, created = redemptions.redeem(
            uow=uow(), offer_id=offer_id, redemption_id=body["redemption_id"], unit=unit, code=body.get("code"),
            order_value=body.get("order_value"),
        )  # fmt: skip
        return redemptions.describe(redemption), 201 if created else 200
