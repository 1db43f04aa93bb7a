"""What a rep sees of a handed-off conversation: the hand-off packet (need, fields, score, products and offer shown,
cart and recent behaviour, reason, a three-line summary) and the inbox (the queue and my conversations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Conversation, Event, Lead, Message, Rep
from salesbot.database import UnitOfWork
from salesbot.errors import NotFound
from salesbot.inbox import handoffs
from salesbot.leads import qualification, scoring

RECENT_EVENTS = 10
SUMMARY_LINES = 3


def packet(session: Session, conversation: Conversation, *, now: datetime) -> dict[str, Any]:
    lead = session.scalar(select(Lead).where(Lead.conversation_id == conversation.id))
    said = session.scalars(
        select(Message).where(Message.conversation_id == conversation.id).order_by(Message.seq)
    ).all()
    fields = qualification.known(lead.fields) if lead else {}
    need = fields.get("need") or {}
    shown = {item["item_id"]: item for line in said for item in (line.details or {}).get("items", [])}
    offers = [line.details["offer"] for line in said if (line.details or {}).get("offer")]
    done = scoring.behaviour(session, conversation.customer_id, now=now)
    place = handoffs.place(session, conversation, now=now)
    return {
        "conversation_id": conversation.id,
        "state": conversation.handoff_state,
        "status": conversation.status,
        "rep_id": conversation.rep_id,
        "reason": conversation.handoff_reason,
        "waiting_since": conversation.waiting_since.isoformat() if conversation.waiting_since else None,
        "position": place.position if place else None,
        "need": need.get("text") if isinstance(need, dict) else None,
        "lead": {
            "lead_id": lead.id if lead else None,
            "status": lead.status if lead else None,
            "score": lead.score if lead else None,
            "score_breakdown": lead.score_breakdown if lead else {},
            "fields": fields,
            "declined": qualification.declined(lead.fields) if lead else [],
            "owner": lead.owner if lead else None,
        },
        "products_shown": list(shown.values()),
        "offer_shown": offers[-1] if offers else None,
        "cart_value": done.cart_value,
        "recent_views": done.recent_views,
        "purchases": done.purchases,
        "recent_events": _recent(session, conversation.customer_id),
        "summary": conversation.handoff_summary
        or summary(said, need if isinstance(need, dict) else {}, conversation.handoff_reason),
        "summary_by": "llm" if conversation.handoff_summary else "extract",
        "last_seq": conversation.last_seq,
    }


def summary(said: list[Message], need: dict, reason: str | None) -> list[str]:
    """Three lines a rep reads at a glance: what they want, what they last said, why the bot handed over."""
    visitor = [line.text for line in said if line.author == "visitor"]
    wanted = need.get("text") or (visitor[0] if visitor else "nothing said yet")
    last = visitor[-1] if visitor else "-"
    lines = [f"Wants: {wanted}"[:200], f"Last said: {last}"[:200], f"Handed over: {reason or 'asked by a rep'}"[:200]]
    return lines[:SUMMARY_LINES]


def inbox(*, uow: UnitOfWork, rep: Rep, now: datetime) -> dict[str, Any]:
    """The queue (oldest first) and the rep's own conversations (offered to them, or live with them)."""
    with uow:
        waiting = uow.session.scalars(
            select(Conversation).where(Conversation.handoff_state == "queued")
            .order_by(Conversation.waiting_since, Conversation.id).limit(200)
        ).all()  # fmt: skip
        mine = uow.session.scalars(
            select(Conversation).where(Conversation.rep_id == rep.id, Conversation.handoff_state.in_(handoffs.HOLDING))
            .order_by(Conversation.updated_at.desc())
        ).all()  # fmt: skip
        return {
            "rep": {
                "rep_id": rep.id,
                "name": rep.name,
                "presence": rep.presence,
                "capacity": rep.capacity,
                "load": len(mine),
            },
            "queue": [packet(uow.session, c, now=now) for c in waiting],
            "mine": [packet(uow.session, c, now=now) for c in mine],
        }


def one(*, uow: UnitOfWork, conversation_id: str, now: datetime) -> dict[str, Any]:
    with uow:
        conversation = uow.session.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFound(f"no conversation {conversation_id!r}")
        return packet(uow.session, conversation, now=now)


def _recent(session: Session, customer_id: str | None) -> list[dict[str, Any]]:
    if not customer_id:
        return []
    found = session.execute(
        select(Event.type, Event.item_id, Event.occurred_at).where(Event.customer_id == customer_id)
        .order_by(Event.occurred_at.desc()).limit(RECENT_EVENTS)
    ).all()  # fmt: skip
    return [{"type": kind, "item_id": item, "at": at.isoformat() if at else None} for kind, item, at in found]
