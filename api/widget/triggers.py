"""/v1/widget: the proactive chat triggers marketers set, and the settings the widget's loader reads with a site key."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.access import requires
from api.wiring import uow
from salesbot.access.roles import Role
from salesbot.widget import triggers

blp = Blueprint(
    "widget_triggers",
    __name__,
    url_prefix="/v1/widget",
    description="Proactive chat triggers: when the widget opens a nudge on a store's page, and what it says",
)
CACHE = "private, max-age=60"  # a marketer's change reaches every visitor's browser within a minute


class TriggerIn(Schema):
    name = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.Str(required=True, validate=validate.OneOf(triggers.KINDS))
    seconds = fields.Int(
        allow_none=True,
        validate=validate.Range(min=1, max=3600),
        metadata={"description": "time_on_page only: seconds on the page before it fires"},
    )
    amount = fields.Float(
        allow_none=True,
        validate=validate.Range(min=0, min_inclusive=False, max=triggers.LARGEST_AMOUNT),
        metadata={"description": "cart_value only: fires when the cart total is at least this"},
    )
    category = fields.Str(
        allow_none=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "viewed_category only: fires on pages of this category"},
    )
    message = fields.Str(
        required=True, validate=validate.Length(min=1, max=500), metadata={"description": "What the nudge says"}
    )
    max_shows = fields.Int(validate=validate.Range(min=1, max=100), metadata={"description": "Per visitor, in all"})
    hours_between = fields.Int(
        validate=validate.Range(min=0, max=8760),
        metadata={"description": "Hours before the same visitor sees it again"},
    )
    active = fields.Bool()
    priority = fields.Int(
        validate=validate.Range(min=-1000, max=1000), metadata={"description": "Higher first when several fire"}
    )


class TriggerPatch(TriggerIn):
    name = fields.Str(validate=validate.Length(min=1, max=200))
    kind = fields.Str(
        validate=validate.OneOf(triggers.KINDS),
        metadata={"description": "A new kind drops the old kind's seconds, amount or category unless sent again"},
    )
    message = fields.Str(validate=validate.Length(min=1, max=500))


class FiringOut(Schema):
    """What makes a trigger fire and what it says: the part of a trigger a visitor's browser gets."""

    kind = fields.Str(required=True)
    seconds = fields.Int(allow_none=True)
    amount = fields.Float(allow_none=True)
    category = fields.Str(allow_none=True)
    message = fields.Str(required=True)
    max_shows = fields.Int(required=True)
    hours_between = fields.Int(required=True)


class TriggerOut(FiringOut):
    id = fields.Str(required=True)
    name = fields.Str(required=True)
    active = fields.Bool(required=True)
    priority = fields.Int(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class SiteTriggerOut(FiringOut):
    trigger_id = fields.Str(required=True)


class WidgetSettingsOut(Schema):
    triggers = fields.List(
        fields.Nested(SiteTriggerOut), required=True, metadata={"description": "Active ones, highest priority first"}
    )


@blp.route("/triggers")
class Triggers(MethodView):
    @requires(Role.MARKETER)
    @blp.response(200, TriggerOut(many=True))
    def get(self):
        """Every trigger, active or not, highest priority first"""
        return triggers.get_all(uow=uow())

    @requires(Role.MARKETER)
    @blp.arguments(TriggerIn)
    @blp.response(201, TriggerOut)
    def post(self, body):
        """A new trigger; its kind takes its own setting (seconds, amount or category) and no other"""
        return triggers.create(uow=uow(), **body)


@blp.route("/triggers/<trigger_id>")
class OneTrigger(MethodView):
    @requires(Role.MARKETER)
    @blp.response(200, TriggerOut)
    def get(self, trigger_id):
        """One trigger"""
        return triggers.get(uow=uow(), trigger_id=trigger_id)

    @requires(Role.MARKETER)
    @blp.arguments(TriggerPatch)
    @blp.response(200, TriggerOut)
    def patch(self, body, trigger_id):
        """Change some of a trigger's values (`active: false` pauses it)"""
        return triggers.update(uow=uow(), trigger_id=trigger_id, **body)

    @requires(Role.MARKETER)
    @blp.response(204)
    def delete(self, trigger_id):
        """Delete a trigger"""
        triggers.delete(uow=uow(), trigger_id=trigger_id)


@blp.route("/settings")
class WidgetSettings(MethodView):
    @requires(Role.SITE, Role.SERVER)
    @blp.response(
        200,
        WidgetSettingsOut,
        headers={"Cache-Control": {"description": "Browsers keep it a minute", "schema": {"type": "string"}}},
    )
    def get(self):
        """What the widget's loader fetches with the site key: the active triggers, highest priority first"""
        return {"triggers": triggers.for_site(uow=uow())}, 200, {"Cache-Control": CACHE}
