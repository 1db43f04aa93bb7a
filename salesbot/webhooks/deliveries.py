"""The delivery log: every event sent to every endpoint, newest first, with each attempt; the queue's depth and
lag."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text

from models import Delivery, DeliveryAttempt, WebhookEndpoint
from salesbot.catalog.pages import decode_cursor, page_of
from salesbot.database import UnitOfWork

STATUSES = ("pending", "delivering", "succeeded", "failed")
# The due index's own condition, spelled as the index spells it: SQLite (and PostgreSQL's generic plans) use a
# partial index only for a query that repeats its condition with the same constants, not with bound parameters.
WAITING = text("deliveries.status IN ('pending', 'delivering')")


@dataclass(frozen=True)
class Queue:
    """The deliveries still to make, those given up on, and how late the oldest due one is."""

    waiting: int
    failed: int
    lag_seconds: float  # since the oldest delivery the worker may make now was due; 0 when none is


def queue(*, uow: UnitOfWork, now: datetime) -> Queue:
    """The queue as an operator watches it, read on every scrape: the small due index answers the waiting count
    and the lag (the condition on next_attempt_at, always true, makes SQLite pick it); the failed count reads the
    (endpoint, status) index."""
    count_waiting = select(func.count()).select_from(Delivery).where(WAITING, Delivery.next_attempt_at.is_not(None))
    count_failed = select(func.count()).select_from(Delivery).where(Delivery.status == "failed")
    oldest_due = (
        select(func.min(Delivery.next_attempt_at))
        .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
        .where(WAITING, Delivery.next_attempt_at <= now, WebhookEndpoint.enabled)
    )  # a disabled endpoint's deliveries wait for it, not for the worker
    with uow:
        waiting, failed, oldest = (uow.session.scalar(query) for query in (count_waiting, count_failed, oldest_due))
    return Queue(waiting=waiting or 0, failed=failed or 0,
                 lag_seconds=(now - oldest).total_seconds() if oldest else 0.0)  # fmt: skip


def page(
    *,
    uow: UnitOfWork,
    status: str | None = None,
    endpoint_id: str | None = None,
    event_type: str | None = None,
    page_size: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    query = select(Delivery).order_by(Delivery.id.desc()).limit(page_size + 1)
    for column, value in ((Delivery.status, status), (Delivery.endpoint_id, endpoint_id),
                          (Delivery.event_type, event_type)):  # fmt: skip
        if value is not None:
            query = query.where(column == value)
    if cursor is not None:
        query = query.where(Delivery.id < decode_cursor(cursor))
    with uow:
        found = page_of(list(uow.session.scalars(query)), page_size, lambda delivery: delivery.id)
        attempts = defaultdict(list)
        ids = [delivery.id for delivery in found.rows]
        for attempt in uow.session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids)).order_by(DeliveryAttempt.id)
        ):
            attempts[attempt.delivery_id].append(attempt)
    rows = [_columns(delivery) | {"attempt_log": attempts[delivery.id]} for delivery in found.rows]
    return {"deliveries": rows, "next_cursor": found.next_cursor}


def _columns(delivery: Delivery) -> dict[str, Any]:
    return {column.key: getattr(delivery, column.key) for column in Delivery.__table__.columns}
