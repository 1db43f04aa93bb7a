"""/v1/conversations: chats with visitors that qualify leads."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import INCLUDE, Schema, fields, validate

from api.access import act_for, conversation_visitor, limited_per, requires
from api.feedback import summary_field, with_feedback
from api.inbox import last_seen, stream
from api.wiring import salesbot
from salesbot.access.roles import Role
from salesbot.inbox import streams

blp = Blueprint("conversations", __name__, url_prefix="/v1/conversations", description="Chats that qualify leads")

ID = {"validate": validate.Length(min=1, max=128)}


class PageIn(Schema):
    """Where the visitor is; other keys the widget sends are kept as they are."""

    class Meta:
        unknown = INCLUDE

    item_ids = fields.List(fields.Str(validate=validate.Length(min=1, max=128)), validate=validate.Length(max=50))
    url = fields.Str(validate=validate.Length(max=2000))


class StartIn(Schema):
    customer_id = fields.Str(
        load_default=None,
        **ID,
        metadata={"description": "A signed-in customer; a site key must send their hash in X-Customer-Hash"},
    )
    visitor_id = fields.Str(load_default=None, **ID, metadata={"description": "An anonymous visitor's id"})
    channel = fields.Str(load_default="web", validate=validate.Length(min=1, max=32))
    page = fields.Nested(
        PageIn, load_default=dict, metadata={"description": 'Where the visitor is, e.g. {"item_ids": ["sku-1"]}'}
    )


class MessageIn(Schema):
    text = fields.Raw(required=True, metadata={"description": "What the visitor wrote"})


class CsatIn(Schema):
    score = fields.Int(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = fields.Str(load_default=None, validate=validate.Length(max=2000))


class ProductOut(Schema):
    item_id = fields.Str(required=True)
    title = fields.Str(required=True)
    price = fields.Str(required=True)
    currency = fields.Str(required=True)
    category = fields.Str(allow_none=True)
    recommendation_id = fields.Str(
        allow_none=True, metadata={"description": "Send it with a click or add_to_cart event on this product"}
    )
    url = fields.Str(allow_none=True, metadata={"description": "The product's page: the item's `url` attribute"})
    image_url = fields.Str(allow_none=True, metadata={"description": "Its picture: the item's `image_url` attribute"})


class QueueOut(Schema):
    position = fields.Int(required=True, metadata={"description": "1: next to be taken"})
    wait_seconds = fields.Int(required=True, metadata={"description": "An estimate from recent hand-offs"})


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
    declined = fields.List(fields.Str(), metadata={"description": "Fields the visitor declined to give"})


class TurnOut(Schema):
    conversation_id = fields.Str(required=True)
    reply = fields.Nested(
        ReplyOut,
        required=True,
        allow_none=True,
        metadata={"description": "null while a person has the conversation: they answer"},
    )
    lead = fields.Nested(LeadOut, required=True)
    conversation_status = fields.Str(
        required=True, metadata={"description": "open, awaiting_human, live (a person) or closed"}
    )
    handoff_reason = fields.Str(allow_none=True)
    queue = fields.Nested(QueueOut, allow_none=True, metadata={"description": "While waiting for a person"})


class StreamLineOut(Schema):
    seq = fields.Int(required=True, metadata={"description": "1, 2, 3... in this conversation"})
    author = fields.Str(required=True, metadata={"description": "visitor, bot, rep or system"})
    text = fields.Str(required=True)
    at = fields.Str(allow_none=True)
    items = fields.List(fields.Dict())
    offer = fields.Dict(allow_none=True)
    quick_replies = fields.List(fields.Str())
    rep = fields.Dict(allow_none=True, metadata={"description": "The rep who wrote or joined: rep_id, name"})
    event = fields.Str(
        allow_none=True,
        metadata={"description": "What a system line tells: joined, transferred, released or closed"},
    )
    feedback = summary_field()


class AfterIn(Schema):
    after = fields.Int(
        load_default=0,
        validate=validate.Range(min=0, max=streams.LARGEST_ID),  # beyond a 64-bit integer no database can compare it
        metadata={"description": "The last seq seen"},
    )


class StartOut(TurnOut):
    conversation_token = fields.Str(
        required=True,
        metadata={
            "description": "Send it as X-Conversation-Token with a site key to use this conversation; shown only here"
        },
    )


class LineOut(Schema):
    seq = fields.Int(allow_none=True, metadata={"description": "1, 2, 3... in this conversation"})
    author = fields.Str(required=True)
    text = fields.Str(required=True)
    at = fields.DateTime(required=True)
    asks = fields.Str(allow_none=True)
    items = fields.List(fields.Nested(ProductOut))
    faq_ids = fields.List(fields.Str())
    quick_replies = fields.List(fields.Str())
    feedback = summary_field()


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


@blp.route("")
class Conversations(MethodView):
    @requires(Role.SITE, Role.SERVER)
    @blp.arguments(StartIn)
    @blp.response(201, StartOut)
    def post(self, body):
        """Start a conversation; the answer carries the greeting, the first question and the conversation's token"""
        act_for(body["customer_id"])
        return salesbot().conversations.start(**body)


@blp.route("/<conversation_id>")
class ConversationTranscript(MethodView):
    @requires(Role.SITE, Role.SERVER, Role.REP)
    @conversation_visitor
    @blp.response(200, TranscriptOut)
    def get(self, conversation_id):
        """The transcript and the lead as it stands"""
        return _noted(salesbot().conversations.transcript(conversation_id))


@blp.route("/<conversation_id>/messages")
class Messages(MethodView):
    @requires(Role.SITE, Role.SERVER)
    @conversation_visitor
    @limited_per("conversation", by="conversation_id", rate=lambda settings: settings.conversation_rate_limit)
    @blp.arguments(MessageIn)
    @blp.response(200, TurnOut)
    def post(self, body, conversation_id):
        """The visitor says something; the bot replies, and the lead is updated and scored"""
        return salesbot().conversations.say(conversation_id, body["text"])

    @requires(Role.SITE, Role.SERVER, Role.REP)
    @conversation_visitor
    @blp.arguments(AfterIn, location="query")
    @blp.response(200, StreamLineOut(many=True))
    def get(self, query, conversation_id):
        """The lines after `after` (a seq), oldest first: the polling fallback of the stream"""
        return with_feedback(conversation_id, salesbot().conversations.lines_after(conversation_id, query["after"]))


@blp.route("/<conversation_id>/stream")
class Stream(MethodView):
    @requires(Role.SITE, Role.SERVER, Role.REP)
    @conversation_visitor
    @blp.response(200, description="text/event-stream: a `message` event per line (id = its seq)")
    def get(self, conversation_id):
        """Server-Sent Events: every line of the conversation after `Last-Event-ID` (or `?after=`), then each new
        one as it is written (the bot's, a rep's, the visitor's); reconnect freely, nothing is lost or repeated"""
        services = salesbot()
        conversations = services.conversations
        conversations.lines_after(conversation_id, 0, limit=1)  # 404 now, not inside the stream

        def read_after(after: int) -> list[tuple[int, str, dict]]:
            lines = with_feedback(conversation_id, conversations.lines_after(conversation_id, after))
            return [(line["seq"], "message", line) for line in lines]

        return stream(services, read_after, channels=(f"conversation:{conversation_id}",), after=last_seen())


@blp.route("/<conversation_id>/csat")
class Satisfaction(MethodView):
    @requires(Role.SITE, Role.SERVER)
    @conversation_visitor
    @blp.arguments(CsatIn)
    @blp.response(200, TranscriptOut)
    def post(self, body, conversation_id):
        """How satisfied the visitor was, 1 to 5, with an optional comment"""
        return _noted(salesbot().conversations.rate(conversation_id, **body))


@blp.route("/<conversation_id>/close")
class Closing(MethodView):
    @requires(Role.SITE, Role.SERVER, Role.REP)
    @conversation_visitor
    @blp.response(200, TranscriptOut)
    def post(self, conversation_id):
        """End the conversation; further messages get 409"""
        return _noted(salesbot().conversations.close(conversation_id))


def _noted(transcript: dict) -> dict:
    """The transcript with its bot lines' feedback, for the store's own keys."""
    return transcript | {"messages": with_feedback(transcript["conversation_id"], transcript["messages"])}
