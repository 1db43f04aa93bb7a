"""Webhook endpoints (admin): where events go, which ones, in which format, signed with which secret."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from models import Delivery, OutboxEvent, WebhookEndpoint
from models.base import utcnow
from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput, NotFound
from salesbot.webhooks import outbox, urls
from salesbot.webhooks.payloads import FORMATS

EDITABLE = ("url", "event_types", "description", "enabled", "format")


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def create(*, uow: UnitOfWork, guard: urls.Guard, **values: Any) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (shown once: the API never answers it again)."""
    checked = _checked(values, guard)
    secret = new_secret()
    endpoint = WebhookEndpoint(id="ep_" + secrets.token_hex(8), secret=secret, **checked)
    with uow:
        uow.session.add(endpoint)
        uow.commit()
        return endpoint, secret


def update_endpoint(*, uow: UnitOfWork, endpoint_id: str, guard: urls.Guard, **changes: Any) -> WebhookEndpoint:
    checked = _checked(changes, guard)
    with uow:
        endpoint = _get(uow, endpoint_id)
        for name, value in checked.items():
            setattr(endpoint, name, value)
        if checked.get("enabled"):
            endpoint.disabled_reason, endpoint.failing_since = None, None
        uow.commit()
        return endpoint


def get(*, uow: UnitOfWork, endpoint_id: str) -> WebhookEndpoint:
    with uow:
        return _get(uow, endpoint_id)


def get_all(*, uow: UnitOfWork) -> list[WebhookEndpoint]:
    with uow:
        return list(uow.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at)))


def delete(*, uow: UnitOfWork, endpoint_id: str) -> None:
    with uow:
        uow.session.delete(_get(uow, endpoint_id))
        uow.commit()


def rotate(*, uow: UnitOfWork, endpoint_id: str, grace: timedelta) -> tuple[str, datetime]:
    """A new secret, and until when the old one keeps signing too (space-separated signatures)."""
    secret, until = new_secret(), utcnow() + grace
    with uow:
        endpoint = _get(uow, endpoint_id)
        endpoint.previous_secret, endpoint.secret = endpoint.secret, secret
        endpoint.previous_secret_expires_at = until
        uow.commit()
    return secret, until


def send_test(*, uow: UnitOfWork, endpoint_id: str) -> Delivery:
    """An example event to this endpoint alone, delivered (signed, retried) like any other."""
    now = utcnow()
    with uow:
        endpoint = _get(uow, endpoint_id)
        data = {"message": "a test event from salesbot", "endpoint_id": endpoint.id}
        event = OutboxEvent(id="evt_" + secrets.token_hex(12), type="webhook.test", data=data, created_at=now)
        uow.session.add(event)
        uow.session.flush()  # the event row first: the delivery refers to it
        sent = outbox.delivery(event, endpoint, now=now)
        uow.session.add(sent)
        uow.commit()
        return sent


def replay(*, uow: UnitOfWork, endpoint_id: str, since: datetime) -> dict[str, int]:
    """Deliver again what this endpoint missed since `since`: its failed deliveries, and events it is
    subscribed to that happened while it did not exist or was disabled."""
    now = utcnow()
    with uow:
        endpoint = _get(uow, endpoint_id)
        retried = uow.session.execute(
            update(Delivery)
            .where(Delivery.endpoint_id == endpoint.id, Delivery.status == "failed", Delivery.created_at >= since)
            .values(status="pending", attempts=0, next_attempt_at=now, leased_until=None, updated_at=now)
        ).rowcount
        had = select(Delivery.event_id).where(Delivery.endpoint_id == endpoint.id)
        missed = uow.session.scalars(
            select(OutboxEvent).where(OutboxEvent.created_at >= since, OutboxEvent.id.not_in(had))
        ).all()
        added = [
            outbox.delivery(event, endpoint, now=now) for event in missed if outbox.subscribed(endpoint, event.type)
        ]
        uow.session.add_all(added)
        uow.commit()
    return {"retried": retried, "added": len(added)}


def retry(*, uow: UnitOfWork, delivery_id: str) -> Delivery:
    """A failed delivery starts its schedule again (its attempts so far stay in the log)."""
    with uow:
        delivery = uow.session.get(Delivery, delivery_id)
        if delivery is None:
            raise NotFound(f"no delivery {delivery_id!r}")
        if delivery.status != "failed":
            raise InvalidInput.for_field("delivery_id", f"{delivery_id} is {delivery.status}; only failed ones retry")
        delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, utcnow()
        delivery.leased_until, delivery.updated_at = None, utcnow()
        uow.commit()
        return delivery


def _checked(values: dict[str, Any], guard: urls.Guard) -> dict[str, Any]:
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise InvalidInput.for_field(sorted(unknown)[0], "cannot be set")
    if "url" in values:
        guard.check(values["url"])
    if values.get("format", "generic") not in FORMATS:
        raise InvalidInput.for_field("format", f"must be one of {', '.join(FORMATS)}")
    wrong = [kind for kind in values.get("event_types") or [] if kind not in outbox.EVENT_TYPES]
    if wrong:
        raise InvalidInput.for_field("event_types", f"unknown {wrong}; choose from {', '.join(outbox.EVENT_TYPES)}")
    return values


def _get(uow: UnitOfWork, endpoint_id: str) -> WebhookEndpoint:
    endpoint = uow.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id!r}")
    return endpoint
