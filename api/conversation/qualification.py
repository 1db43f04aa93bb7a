"""/v1/qualification-schema: what the bot asks and how leads are scored, edited by marketers."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.access import requires
from api.wiring import uow
from salesbot.access.roles import Role
from salesbot.leads import qualification

blp = Blueprint("qualification", __name__, url_prefix="/v1/qualification-schema", description="What the bot asks")


class FieldIn(Schema):
    name = fields.Str(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$"))
    type = fields.Str(required=True, validate=validate.OneOf(qualification.TYPES))
    question = fields.Str(required=True, validate=validate.Length(min=1, max=500))
    required = fields.Bool(load_default=False)
    weight = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=100))
    rule = fields.Dict(load_default=dict)
    disqualifies = fields.Bool(load_default=False)


class ThresholdsIn(Schema):
    qualified = fields.Float(load_default=60.0, validate=validate.Range(min=0, max=100))
    hot = fields.Float(load_default=80.0, validate=validate.Range(min=0, max=101))
    nurture = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=100))


class SchemaIn(Schema):
    fields_ = fields.List(
        fields.Nested(FieldIn), data_key="fields", required=True, validate=validate.Length(min=1, max=40)
    )
    thresholds = fields.Nested(ThresholdsIn, load_default=dict)


class SchemaOut(Schema):
    version = fields.Int(required=True)
    fields_ = fields.List(fields.Dict(), data_key="fields", attribute="fields", required=True)
    thresholds = fields.Dict(required=True)


@blp.route("")
class QualificationSchema(MethodView):
    @requires(Role.MARKETER, Role.REP)
    @blp.response(200, SchemaOut)
    def get(self):
        """The current qualification schema: fields in asking order, weights, rules and thresholds"""
        return qualification.current(uow=uow()).as_dict()

    @requires(Role.MARKETER)
    @blp.arguments(SchemaIn)
    @blp.response(200, SchemaOut)
    def put(self, body):
        """Save a new version; conversations already started keep the version they began with"""
        saved = qualification.save(
            uow=uow(), fields=body["fields_"], thresholds=body["thresholds"], author=g.key_holder.key_id
        )
        return saved.as_dict()
