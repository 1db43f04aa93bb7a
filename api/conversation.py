"""Conversations with visitors, the qualification schema marketers edit, and the FAQ the bot answers from."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import INCLUDE, Schema, fields, validate

from api.access import requires, spend
from api.wiring import salesbot, uow
from salesbot.access.roles import Role
from salesbot.conversation import faqs, qualification
from salesbot.errors import InvalidInput

conversations = Blueprint(
    "conversations", __name__, url_prefix="/v1/conversations", description="Chats that qualify leads"
)
schemas = Blueprint("qualification", __name__, url_prefix="/v1/qualification-schema", description="What the bot asks")
faq = Blueprint("faqs", __name__, url_prefix="/v1/faqs", description="Questions and answers the bot answers from")

ID = {"validate": validate.Length(min=1, max=128)}


class PageIn(Schema):
    """Where the visitor is; other keys the widget sends are kept as they are."""

    class Meta:
        unknown = INCLUDE

    item_ids = fields.List(fields.Str(validate=validate.Length(min=1, max=128)), validate=validate.Length(max=50))
    url = fields.Str(validate=validate.Length(max=2000))


class StartIn(Schema):
    customer_id = fields.Str(load_default=None, **ID, metadata={"description": "A signed-in customer (server keys)"})
    visitor_id = fields.Str(load_default=None, **ID, metadata={"description": "An anonymous visitor's id"})
    channel = fields.Str(load_default="web", validate=validate.Length(min=1, max=32))
    page = fields.Nested(
        PageIn, load_default=dict, metadata={"description": 'Where the visitor is, e.g. {"item_ids": ["sku-1"]}'}
    )


class MessageIn(Schema):
    text = fields.Raw(required=True, metadata={"description": "What the visitor wrote"})


class CsatIn(Schema):
    score = fields.Int(required=True, validate=validate.Range(min=1, max=5))
    comment = fields.Str(load_default=None, validate=validate.Length(max=2000))


class ProductOut(Schema):
    item_id = fields.Str(required=True)
    title = fields.Str(required=True)
    price = fields.Str(required=True)
    currency = fields.Str(required=True)
    category = fields.Str(allow_none=True)


class ReplyOut(Schema):
    text = fields.Str(required=True)
    asks = fields.Str(allow_none=True, metadata={"description": "The field the bot just asked for"})
    quick_replies = fields.List(fields.Str(), required=True)
    items = fields.List(fields.Nested(ProductOut), required=True, metadata={"description": "Products to show"})
    faq_ids = fields.List(fields.Str(), required=True, metadata={"description": "FAQs the reply used"})
    offer = fields.Dict(allow_none=True)


class LeadOut(Schema):
    lead_id = fields.Str(required=True)
    status = fields.Str(required=True, metadata={"description": "new, qualifying, qualified, disqualified, nurture"})
    score = fields.Float(required=True)
    score_breakdown = fields.Dict(required=True, metadata={"description": "Each field's and behaviour's points"})
    fields_ = fields.Dict(data_key="fields", attribute="fields", required=True)
    missing = fields.List(fields.Str(), required=True, metadata={"description": "Required fields still unknown"})


class TurnOut(Schema):
    conversation_id = fields.Str(required=True)
    reply = fields.Nested(ReplyOut, required=True)
    lead = fields.Nested(LeadOut, required=True)
    conversation_status = fields.Str(required=True, metadata={"description": "open, awaiting_human or closed"})
    handoff_reason = fields.Str(allow_none=True)


class LineOut(Schema):
    author = fields.Str(required=True)
    text = fields.Str(required=True)
    at = fields.DateTime(required=True)
    asks = fields.Str(allow_none=True)
    items = fields.List(fields.Nested(ProductOut))
    faq_ids = fields.List(fields.Str())
    quick_replies = fields.List(fields.Str())


class TranscriptOut(Schema):
    conversation_id = fields.Str(required=True)
    status = fields.Str(required=True)
    handoff_reason = fields.Str(allow_none=True)
    customer_id = fields.Str(allow_none=True)
    visitor_id = fields.Str(allow_none=True)
    channel = fields.Str(required=True)
    schema_version = fields.Int(required=True)
    csat = fields.Int(allow_none=True)
    created_at = fields.DateTime(required=True)
    messages = fields.List(fields.Nested(LineOut), required=True)
    lead = fields.Nested(LeadOut, required=True)


@conversations.route("")
class Conversations(MethodView):
    @requires(Role.SITE, Role.SERVER)
    @conversations.arguments(StartIn)
    @conversations.response(201, TurnOut)
    def post(self, body):
        """Start a conversation; the answer carries the greeting and the first question"""
        if body["customer_id"] and g.key_holder.role is Role.SITE:
            raise InvalidInput.for_field(
                "customer_id",
                "a site key cannot speak for a customer; send visitor_id, or start the conversation from your "
                "server with a server key and hand its id to the widget",
            )
        return salesbot().conversations.start(**body)


@conversations.route("/<conversation_id>")
class ConversationTranscript(MethodView):
    @requires(Role.SITE, Role.SERVER, Role.REP)
    @conversations.response(200, TranscriptOut)
    def get(self, conversation_id):
        """The transcript and the lead as it stands"""
        return salesbot().conversations.transcript(conversation_id)


@conversations.route("/<conversation_id>/messages")
class Messages(MethodView):
    @requires(Role.SITE, Role.SERVER)
    @conversations.arguments(MessageIn)
    @conversations.response(200, TurnOut)
    def post(self, body, conversation_id):
        """The visitor says something; the bot replies, and the lead is updated and scored"""
        services = salesbot()
        spend("conversation", conversation_id, services.settings.conversation_rate_limit)
        return services.conversations.say(conversation_id, body["text"])


@conversations.route("/<conversation_id>/csat")
class Satisfaction(MethodView):
    @requires(Role.SITE, Role.SERVER)
    @conversations.arguments(CsatIn)
    @conversations.response(200, TranscriptOut)
    def post(self, body, conversation_id):
        """How satisfied the visitor was, 1 to 5, with an optional comment"""
        return salesbot().conversations.rate(conversation_id, **body)


@conversations.route("/<conversation_id>/close")
class Closing(MethodView):
    @requires(Role.SITE, Role.SERVER, Role.REP)
    @conversations.response(200, TranscriptOut)
    def post(self, conversation_id):
        """End the conversation; further messages get 409"""
        return salesbot().conversations.close(conversation_id)


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


@schemas.route("")
class QualificationSchema(MethodView):
    @requires(Role.MARKETER, Role.REP)
    @schemas.response(200, SchemaOut)
    def get(self):
        """The current qualification schema: fields in asking order, weights, rules and thresholds"""
        return qualification.current(uow=uow()).as_dict()

    @requires(Role.MARKETER)
    @schemas.arguments(SchemaIn)
    @schemas.response(200, SchemaOut)
    def put(self, body):
        """Save a new version; conversations already started keep the version they began with"""
        saved = qualification.save(
            uow=uow(), fields=body["fields_"], thresholds=body["thresholds"], author=g.key_holder.key_id
        )
        return saved.as_dict()


class FaqIn(Schema):
    question = fields.Str(required=True, validate=validate.Length(min=1, max=1000))
    answer = fields.Str(required=True, validate=validate.Length(min=1, max=5000))
    tags = fields.List(fields.Str(validate=validate.Length(max=100)), load_default=list)


class FaqOut(FaqIn):
    id = fields.Str(required=True)
    updated_at = fields.DateTime(required=True)


@faq.route("")
class Faqs(MethodView):
    @requires(Role.MARKETER)
    @faq.response(200, FaqOut(many=True))
    def get(self):
        """Every FAQ"""
        return faqs.get_all(uow=uow())

    @requires(Role.MARKETER)
    @faq.arguments(FaqIn)
    @faq.response(201, FaqOut)
    def post(self, body):
        """Add a question and its answer"""
        return faqs.create(uow=uow(), **body)


@faq.route("/<faq_id>")
class OneFaq(MethodView):
    @requires(Role.MARKETER)
    @faq.response(200, FaqOut)
    def get(self, faq_id):
        """One FAQ"""
        return faqs.get(uow=uow(), faq_id=faq_id)

    @requires(Role.MARKETER)
    @faq.arguments(FaqIn)
    @faq.response(200, FaqOut)
    def put(self, body, faq_id):
        """Replace a question and its answer"""
        return faqs.update(uow=uow(), faq_id=faq_id, **body)

    @requires(Role.MARKETER)
    @faq.response(204)
    def delete(self, faq_id):
        """Delete an FAQ"""
        faqs.delete(uow=uow(), faq_id=faq_id)
