"""The transactional outbox: an event is written in the transaction of the change that caused it, with one
delivery per endpoint subscribed at that moment. Nothing is sent here; the worker delivers."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Delivery, OutboxEvent, WebhookEndpoint
from models.base import utcnow

EVENT_TYPES = (
    "lead.qualified",
    "lead.updated",
    "lead.handoff_requested",
    "conversation.closed",
    "offer.redeemed",
    "experiment.stopped",
    "conversation.queued",
    "conversation.assigned",
    "conversation.live",
    "conversation.released",
    "conversation.resolved",
)


def emit(session: Session, event_type: str, data: dict[str, Any], *, now: datetime | None = None) -> OutboxEvent:
    """Add the event and its deliveries to the caller's transaction (the caller commits, or nothing happens)."""
    now = now or utcnow()
    event = OutboxEvent(id="evt_" + secrets.token_hex(12), type=event_type, data=data, created_at=now)
    session.add(event)
    session.flush()  # the event row first: deliveries refer to it
    for endpoint in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.enabled)):
        if subscribed(endpoint, event_type):
            session.add(delivery(event, endpoint, now=now))
    return event


def subscribed(endpoint: WebhookEndpoint, event_type: str) -> bool:
    return not endpoint.event_types or event_type in endpoint.event_types


def delivery(event: OutboxEvent, endpoint: WebhookEndpoint, *, now: datetime) -> Delivery:
    return Delivery(
        id=f"msg_{int(now.timestamp() * 1000):012x}{secrets.token_hex(8)}",  # sorts by time: the log pages by id
        event_id=event.id,
        endpoint_id=endpoint.id,
        event_type=event.type,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
