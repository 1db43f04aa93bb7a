"""A lead moving through a conversation: its fields and declines taken in, its score, and its status with the
history of every change, written in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from models import Lead, LeadChange
from salesbot.leads import qualification, scoring
from salesbot.leads.qualification import Schema


def take_in(
    session: Session, lead: Lead, schema: Schema, *, learnt: dict[str, Any], declined: tuple[str, ...], now: datetime
) -> scoring.Verdict:
    """Add what the visitor told and declined this turn; the score and status that follow."""
    fields = qualification.known(lead.fields) | learnt
    refused = [*(qualification.declined(lead.fields)), *declined]
    refused = [name for name in dict.fromkeys(refused) if fields.get(name) is None]
    lead.fields = fields | ({qualification.DECLINED: refused} if refused else {})
    done = scoring.behaviour(session, lead.customer_id, now=now)
    return scoring.judge(schema, fields, done, tuple(refused))


def move(session: Session, lead: Lead, verdict: scoring.Verdict, *, handoff: str | None, now: datetime) -> str | None:
    """The lead's new score and status; a status change is kept in its history. Answers the new status when it
    changed, else None."""
    status, reason = verdict.status, verdict.reason
    if lead.status in CLOSED_BY_REPS:
        status, reason = lead.status, "a rep closed it"
    elif status != "qualified" and (handoff or lead.status == "handed_off"):
        status, reason = "handed_off", handoff or "a rep has it"
    changed = status != lead.status
    if changed:
        session.add(LeadChange(lead_id=lead.id, from_status=lead.status, to_status=status, score=verdict.score,
                               reason=reason[:200], changed_at=now))  # fmt: skip
    lead.status, lead.score, lead.score_breakdown, lead.updated_at = status, verdict.score, verdict.breakdown, now
    return status if changed else None


CLOSED_BY_REPS = ("won", "lost")
