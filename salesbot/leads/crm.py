"""What a conversation tells the CRMs, written to the webhook outbox in the turn's own transaction:
`lead.qualified`, `lead.updated`, `lead.handoff_requested` and `conversation.closed`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Conversation, Lead, Message
from salesbot.leads import qualification
from salesbot.webhooks import outbox

SUMMARY_LINES = 8
LINE_CHARS = 200


def tell(
    session: Session,
    conversation: Conversation,
    lead: Lead,
    *,
    before: tuple[str, dict, str],
    now: datetime,
    link: str,
) -> None:
    """Events for what this turn changed: (lead status, lead fields, conversation status) `before` it."""
    status, fields, conversation_status = before
    changes = []
    if lead.status != status and lead.status == "qualified":
        changes.append("lead.qualified")
    elif lead.status != status or (lead.status == "qualified" and lead.fields != fields):
        changes.append("lead.updated")
    if conversation.status == "awaiting_human" and conversation_status != "awaiting_human":
        changes.append("lead.handoff_requested")
    if changes:
        data = lead_data(session, conversation, lead, link=link)
        for kind in changes:
            extra = {"previous_status": status} if kind == "lead.updated" else {}
            extra |= {"handoff_reason": conversation.handoff_reason} if kind == "lead.handoff_requested" else {}
            outbox.emit(session, kind, data | extra, now=now)


def closed(session: Session, conversation: Conversation, lead: Lead, *, link: str) -> None:
    data = {
        "conversation_id": conversation.id,
        "csat": conversation.csat,
        "csat_comment": conversation.csat_comment,
        "lead": lead_data(session, conversation, lead, link=link),
    }
    outbox.emit(session, "conversation.closed", data, now=conversation.closed_at)


def lead_data(session: Session, conversation: Conversation, lead: Lead, *, link: str) -> dict[str, Any]:
    """The lead as a CRM wants it: fields, score and why, a transcript summary, the products and offer shown, links."""
    lines = session.scalars(
        select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id)
    ).all()
    shown = {item["item_id"]: item for line in lines for item in (line.details or {}).get("items", [])}
    offers = [line.details["offer"] for line in lines if (line.details or {}).get("offer")]
    summary = "\n".join(f"{line.author}: {line.text[:LINE_CHARS]}" for line in lines[-SUMMARY_LINES:])
    base = link.rstrip("/")
    return {
        "lead_id": lead.id,
        "status": lead.status,
        "score": lead.score,
        "score_breakdown": lead.score_breakdown,
        "fields": qualification.known(lead.fields),
        "declined": qualification.declined(lead.fields),
        "conversation_id": conversation.id,
        "customer_id": conversation.customer_id,
        "visitor_id": conversation.visitor_id,
        "channel": conversation.channel,
        "transcript_summary": summary,
        "recommended_items": list(shown.values()),
        "offer_shown": offers[-1] if offers else None,  # the offer the bot showed (offer_id, code, value, ...)
        # Who has it: "queued"/"assigned"/"live" with a rep, "message" when nobody was there and the bot took a
        # message for a colleague to call back.
        "handoff": {"state": conversation.handoff_state, "reason": conversation.handoff_reason},
        "links": {"conversation": f"{base}/v1/conversations/{conversation.id}"},
    }
