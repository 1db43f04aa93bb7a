"""What serving reads and answers: a customer's latest events (their history), and the recommendation lists."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import bindparam, select

from models import Event
from salesbot.database import UnitOfWork

# A customer's latest events, by the (customer_id, occurred_at) index; built once and run without the ORM, whose
# statement building cost more than the read itself.
LATEST = (
    select(Event.item_id, Event.type, Event.occurred_at)
    .where(Event.customer_id == bindparam("customer_id"))
    .order_by(Event.occurred_at.desc())
    .limit(500)
)


@dataclass(frozen=True)
class Suggestion:
    item_id: str
    title: str
    price: float
    currency: str
    category: str | None
    score: float
    reason: str


@dataclass(frozen=True)
class Recommendations:
    recommendation_id: str
    model_version: str | None
    strategy: str  # personal, features, session, similar, popular
    items: list[Suggestion]


@dataclass(frozen=True)
class History:
    """A customer's latest events, newest first: what they did to which item, and how many days ago."""

    item_ids: list[str]
    types: list[str]
    age_days: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def empty(self) -> bool:
        return not self.item_ids

    def purchased(self) -> set[str]:
        return {item for item, kind in zip(self.item_ids, self.types, strict=True) if kind == "purchase"}

    @classmethod
    def read(cls, uow: UnitOfWork, customer_id: str) -> History:
        """Their latest events as they are now (events of the last minutes included), in one lone read."""
        rows = uow.read(LATEST, {"customer_id": customer_id})
        now = time.time()
        ages = np.array([now - _moment(row.occurred_at) for row in rows], dtype=np.float64) / 86_400
        return cls(item_ids=[row.item_id for row in rows], types=[row.type for row in rows], age_days=ages)

    def latest_per_item(self) -> tuple[list[str], list[str]]:
        """Each item once, with what they did to it last."""
        latest = dict(zip(reversed(self.item_ids), reversed(self.types), strict=True))
        order = list(dict.fromkeys(self.item_ids))
        return order, [latest[item] for item in order]


def _moment(value: datetime | str) -> float:
    """Seconds since the epoch of a stored time (SQLite may hand back text)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
