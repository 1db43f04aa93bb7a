"""The delivery log: every event sent to every endpoint, newest first, with each attempt."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from models import Delivery, DeliveryAttempt
from salesbot.catalog.pages import decode_cursor, page_of
from salesbot.database import UnitOfWork

STATUSES = ("pending", "delivering", "succeeded", "failed")


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
