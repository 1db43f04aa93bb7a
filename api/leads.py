"""/v1/leads (rep, marketer): the leads conversations made, with their packet, transcript and history."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.access import requires
from api.feedback import with_feedback
from api.wiring import salesbot, uow
from salesbot.access.roles import Role
from salesbot.leads import leads

blp = Blueprint("leads", __name__, url_prefix="/v1/leads", description="Leads, for reps to work")


class LeadQuery(Schema):
    status = fields.Str(validate=validate.Length(max=16))
    owner = fields.Str(validate=validate.Length(max=32), metadata={"description": "A rep id"})
    min_score = fields.Float(validate=validate.Range(min=0, max=1000))
    q = fields.Str(validate=validate.Length(min=1, max=200), metadata={"description": "Words in fields or notes"})
    page_size = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.Str(validate=validate.Length(max=500))


class LeadRow(Schema):
    lead_id = fields.Str(required=True)
    conversation_id = fields.Str(required=True)
    customer_id = fields.Str(allow_none=True)
    status = fields.Str(required=True)
    score = fields.Float(required=True)
    fields_ = fields.Dict(data_key="fields", attribute="fields", required=True)
    declined = fields.List(fields.Str(), required=True)
    owner = fields.Str(allow_none=True)
    notes = fields.Str(allow_none=True)
    updated_at = fields.Str(required=True)


class LeadPage(Schema):
    leads = fields.List(fields.Nested(LeadRow), required=True)
    next_cursor = fields.Str(allow_none=True)


class LeadOne(LeadRow):
    packet = fields.Dict(required=True, metadata={"description": "The hand-off packet"})
    transcript = fields.List(fields.Dict(), required=True, metadata={"description": "Bot lines carry their feedback"})
    history = fields.List(fields.Dict(), required=True, metadata={"description": "Every status and rep change"})


class LeadPatch(Schema):
    owner = fields.Str(allow_none=True, validate=validate.Length(min=1, max=32), metadata={"description": "A rep id"})
    status = fields.Str(validate=validate.OneOf(leads.SET_BY_REPS))
    notes = fields.Str(allow_none=True, validate=validate.Length(max=10_000))


@blp.route("")
class Leads(MethodView):
    @requires(Role.REP, Role.MARKETER)
    @blp.arguments(LeadQuery, location="query")
    @blp.response(200, LeadPage)
    def get(self, query):
        """Leads, most recently changed first; filter by status, owner, score and words"""
        return leads.get_all(uow=uow(), **query)


@blp.route("/<lead_id>")
class OneLead(MethodView):
    @requires(Role.REP, Role.MARKETER)
    @blp.response(200, LeadOne)
    def get(self, lead_id):
        """One lead with its hand-off packet, transcript and history"""
        lead = leads.get(uow=uow(), lead_id=lead_id, now=datetime.now(UTC))
        return lead | {"transcript": with_feedback(lead["conversation_id"], lead["transcript"])}

    @requires(Role.REP)
    @blp.arguments(LeadPatch)
    @blp.response(200, LeadRow)
    def patch(self, body, lead_id):
        """Set the owner, close it (won, lost) or send it back to nurture, keep notes; sent to CRMs as lead.updated"""
        return leads.update(uow=uow(), lead_id=lead_id, changed_by=g.key_holder.key_id, now=datetime.now(UTC),
                            link=salesbot().settings.public_url, **body)  # fmt: skip
