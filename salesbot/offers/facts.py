"""The facts an offer's eligibility rule reads (`lead.*`, `customer.*`, `behaviour.*`, `channel`, `page.*`), gathered
for one conversation from the lead, the customer's record and their events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Customer, Event, Item
from models.conversation import Conversation
from salesbot.leads import scoring


def gather(
    session: Session, *, conversation: Conversation, fields: dict[str, Any], status: str, score: float, now: datetime
) -> dict[str, Any]:
    page = conversation.page or {}
    done = scoring.behaviour(session, conversation.customer_id, now=now)
    facts: dict[str, Any] = {
        "lead": _lead(fields) | {"status": status, "score": score},
        "customer": {"first_purchase": done.purchases == 0, "purchases": done.purchases},
        "behaviour": {
            "cart_value": done.cart_value,  # from add_to_cart events; never from the page, which browsers set
            "viewed_categories": _viewed(session, conversation, page),
            "days_since_last_purchase": None,
        },
        "channel": conversation.channel,
        "page": {"category": page.get("category"), "locale": page.get("locale")},
    }
    if conversation.customer_id:
        customer = session.get(Customer, conversation.customer_id)
        if customer is not None:
            facts["customer"] |= {"segment": customer.segment, "country": customer.country,
                                  "attributes": dict(customer.attributes or {})}  # fmt: skip
        last = session.scalar(
            select(func.max(Event.occurred_at)).where(
                Event.customer_id == conversation.customer_id, Event.type == "purchase"
            )
        )
        if last is not None:
            facts["behaviour"]["days_since_last_purchase"] = (now - _aware(last, now)).days
    return facts


def _lead(fields: dict[str, Any]) -> dict[str, Any]:
    lead = {name: value for name, value in fields.items() if not name.startswith("_")}
    timeline = lead.get("timeline")
    if isinstance(timeline, dict) and timeline.get("due"):
        lead["timeline"] = timeline | {"days": timeline.get("days")}
    return lead


def _viewed(session: Session, conversation: Conversation, page: dict) -> list[str]:
    viewed = [page["category"]] if isinstance(page.get("category"), str) else []
    items = [i for i in page.get("item_ids") or [] if isinstance(i, str)][:20]
    if items:
        viewed += [c for c in session.scalars(select(Item.category).where(Item.item_id.in_(items))) if c]
    return sorted(set(viewed))


def _aware(moment: datetime, now: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)
