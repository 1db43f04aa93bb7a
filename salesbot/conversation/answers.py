"""What the API answers about a conversation: a turn's reply, a transcript line, and the lead as it stands; and
what a bot line keeps besides its text."""

from __future__ import annotations

from typing import Any

from models import Conversation, Lead, Message
from salesbot.conversation.brains import Context, Decision
from salesbot.leads import qualification
from salesbot.leads.qualification import Schema


def details_of(decision: Decision, context: Context, problems: tuple[str, ...]) -> dict[str, Any]:
    """What a bot line keeps besides its text: what it asked, showed and cited, and what the guard corrected."""
    return {
        "asks": decision.asks,
        "quick_replies": list(decision.quick_replies),
        "items": [vars(p) for p in context.products + context.store if p.item_id in decision.item_ids],
        "faq_ids": list(decision.faq_ids),
        "offer": None,
        "intent": decision.intent,
        "corrections": list(problems),
        "learnt": list(decision.fields),
    }


def last_learnt(history: list[Message]) -> tuple[str, ...]:
    """The fields the bot's last line took in: what "actually, make it 50" corrects."""
    bot = [m for m in history if m.author == "bot"]
    return tuple((bot[-1].details or {}).get("learnt") or ()) if bot else ()


def shown(details: dict) -> dict:
    """What a transcript line shows besides its text (visitors' lines have none of it)."""
    return {
        "asks": details.get("asks"),
        "items": details.get("items", []),
        "faq_ids": details.get("faq_ids", []),
        "quick_replies": details.get("quick_replies", []),
    }


def lead_of(lead: Lead, schema: Schema) -> dict[str, Any]:
    """The lead as the API shows it: fields, what was declined, what is still missing, score and status."""
    declined = qualification.declined(lead.fields)
    return {
        "lead_id": lead.id,
        "status": lead.status,
        "score": lead.score,
        "score_breakdown": lead.score_breakdown,
        "fields": qualification.known(lead.fields),
        "declined": declined,
        "missing": schema.missing(qualification.known(lead.fields) | dict.fromkeys(declined, "declined")),
    }


def turn_of(conversation: Conversation, lead: Lead, schema: Schema, reply: str, details: dict) -> dict[str, Any]:
    """One turn's answer: the reply with what it shows, the lead, and where the conversation stands."""
    return {
        "conversation_id": conversation.id,
        "reply": {
            "text": reply,
            "asks": details.get("asks"),
            "quick_replies": details.get("quick_replies", []),
            "items": details.get("items", []),
            "faq_ids": details.get("faq_ids", []),
            "offer": details.get("offer"),
        },
        "lead": lead_of(lead, schema),
        "conversation_status": conversation.status,
        "handoff_reason": conversation.handoff_reason,
    }


def silent(conversation: Conversation, lead: Lead, schema: Schema, *, place: Any) -> dict[str, Any]:
    """The answer to a visitor's message while a person has the conversation: no reply from the bot."""
    return {
        "conversation_id": conversation.id,
        "reply": None,
        "lead": lead_of(lead, schema),
        "conversation_status": conversation.status,
        "handoff_reason": conversation.handoff_reason,
    } | queue_of(place)


def queue_of(place: Any) -> dict[str, Any]:
    """Where a waiting visitor stands in the queue (position 1 is next), when they wait."""
    if place is None:
        return {"queue": None}
    return {"queue": {"position": place.position, "wait_seconds": place.wait_seconds}}
