"""CRM webhooks (admin): endpoints, their secrets, and the log of deliveries."""

from __future__ import annotations

from datetime import timedelta

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.access import requires
from api.wiring import salesbot, uow
from salesbot.webhooks import deliveries as log
from salesbot.webhooks import endpoints, outbox
from salesbot.webhooks.payloads import FORMATS

hooks = Blueprint(
    "webhook_endpoints", __name__, url_prefix="/v1/webhook-endpoints", description="Where qualified leads go"
)
sent = Blueprint("deliveries", __name__, url_prefix="/v1/deliveries", description="Every webhook sent, and how")

EVENT_TYPES = fields.List(
    fields.Str(validate=validate.OneOf(outbox.EVENT_TYPES)),
    metadata={"description": f"Only these ({', '.join(outbox.EVENT_TYPES)}); empty for all"},
)


class EndpointIn(Schema):
    url = fields.Str(required=True, validate=validate.Length(min=1, max=2000))
    event_types = EVENT_TYPES
    description = fields.Str(validate=validate.Length(max=500))
    enabled = fields.Bool()
    format = fields.Str(validate=validate.OneOf(FORMATS), metadata={"description": "generic, hubspot or salesforce"})


class EndpointPatch(EndpointIn):
    url = fields.Str(validate=validate.Length(min=1, max=2000))


class EndpointOut(Schema):
    id = fields.Str(required=True)
    url = fields.Str(required=True)
    event_types = fields.List(fields.Str(), required=True)
    description = fields.Str(required=True)
    enabled = fields.Bool(required=True)
    disabled_reason = fields.Str(allow_none=True)
    format = fields.Str(required=True)
    failing_since = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)


class CreatedOut(EndpointOut):
    secret = fields.Str(required=True, metadata={"description": "whsec_...: shown this once; keep it"})


class SecretOut(Schema):
    secret = fields.Str(required=True, metadata={"description": "The new whsec_... secret, shown this once"})
    previous_secret_expires_at = fields.DateTime(required=True)


class ReplayIn(Schema):
    since = fields.AwareDateTime(required=True, metadata={"description": "Events and failures since this moment"})


class ReplayOut(Schema):
    retried = fields.Int(required=True, metadata={"description": "Failed deliveries started again"})
    added = fields.Int(required=True, metadata={"description": "Missed events now to be delivered"})


class AttemptOut(Schema):
    attempted_at = fields.DateTime(required=True)
    status_code = fields.Int(allow_none=True)
    duration_ms = fields.Float(required=True)
    response_head = fields.Str(required=True, metadata={"description": "The first bytes the receiver answered"})
    error = fields.Str(allow_none=True)


class DeliveryOut(Schema):
    id = fields.Str(required=True, metadata={"description": "Also the webhook-id header of every attempt"})
    event_id = fields.Str(required=True)
    event_type = fields.Str(required=True)
    endpoint_id = fields.Str(required=True)
    status = fields.Str(required=True, metadata={"description": "pending, delivering, succeeded or failed"})
    attempts = fields.Int(required=True)
    next_attempt_at = fields.DateTime(required=True)
    last_status_code = fields.Int(allow_none=True)
    created_at = fields.DateTime(required=True)
    attempt_log = fields.List(fields.Nested(AttemptOut), data_key="attempts_log")


class DeliveryQuery(Schema):
    status = fields.Str(validate=validate.OneOf(log.STATUSES))
    endpoint_id = fields.Str()
    event_type = fields.Str()
    page_size = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.Str(metadata={"description": "next_cursor of the previous page"})


class DeliveryPageOut(Schema):
    deliveries = fields.List(fields.Nested(DeliveryOut), required=True)
    next_cursor = fields.Str(allow_none=True)


@hooks.route("")
class Endpoints(MethodView):
    @requires()
    @hooks.response(200, EndpointOut(many=True))
    def get(self):
        """Every webhook endpoint"""
        return endpoints.get_all(uow=uow())

    @requires()
    @hooks.arguments(EndpointIn)
    @hooks.response(201, CreatedOut)
    def post(self, body):
        """Add an endpoint; its https URL must reach a public address. The answer shows the signing secret once"""
        endpoint, secret = endpoints.create(uow=uow(), guard=salesbot().webhook_guard, **body)
        return {**_columns(endpoint), "secret": secret}


@hooks.route("/<endpoint_id>")
class Endpoint(MethodView):
    @requires()
    @hooks.response(200, EndpointOut)
    def get(self, endpoint_id):
        """One endpoint"""
        return endpoints.get(uow=uow(), endpoint_id=endpoint_id)

    @requires()
    @hooks.arguments(EndpointPatch)
    @hooks.response(200, EndpointOut)
    def patch(self, body, endpoint_id):
        """Change an endpoint; enabling it again clears why it was disabled"""
        return endpoints.update_endpoint(uow=uow(), endpoint_id=endpoint_id, guard=salesbot().webhook_guard, **body)

    @requires()
    @hooks.response(204)
    def delete(self, endpoint_id):
        """Delete an endpoint and its delivery log"""
        endpoints.delete(uow=uow(), endpoint_id=endpoint_id)


@hooks.route("/<endpoint_id>/rotate-secret")
class Rotation(MethodView):
    @requires()
    @hooks.response(200, SecretOut)
    def post(self, endpoint_id):
        """A new signing secret; the old one also signs until the grace period ends (space-separated)"""
        hours = salesbot().settings.webhook_secret_grace_hours
        secret, until = endpoints.rotate(uow=uow(), endpoint_id=endpoint_id, grace=timedelta(hours=hours))
        return {"secret": secret, "previous_secret_expires_at": until}


@hooks.route("/<endpoint_id>/test")
class Test(MethodView):
    @requires()
    @hooks.response(202, DeliveryOut)
    def post(self, endpoint_id):
        """Send an example event (type webhook.test) to this endpoint; follow it in the delivery log"""
        return endpoints.send_test(uow=uow(), endpoint_id=endpoint_id)


@hooks.route("/<endpoint_id>/replay")
class Replay(MethodView):
    @requires()
    @hooks.arguments(ReplayIn)
    @hooks.response(202, ReplayOut)
    def post(self, body, endpoint_id):
        """Deliver again everything this endpoint missed since a moment: failed deliveries, and events from
        before it existed or while it was disabled"""
        return endpoints.replay(uow=uow(), endpoint_id=endpoint_id, since=body["since"])


@sent.route("")
class Deliveries(MethodView):
    @requires()
    @sent.arguments(DeliveryQuery, location="query")
    @sent.response(200, DeliveryPageOut)
    def get(self, query):
        """Deliveries, newest first, each with its attempts: time, status code, duration, the answer's first bytes"""
        return log.page(uow=uow(), **query)


@sent.route("/<delivery_id>/retry")
class Retry(MethodView):
    @requires()
    @sent.response(202, DeliveryOut)
    def post(self, delivery_id):
        """Start a failed delivery's schedule again"""
        return endpoints.retry(uow=uow(), delivery_id=delivery_id)


def _columns(endpoint) -> dict:  # type: ignore[no-untyped-def]
    return {column.key: getattr(endpoint, column.key) for column in endpoint.__table__.columns}
