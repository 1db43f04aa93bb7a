"""Leads as reps work them: a filtered list, one lead with its packet, transcript and history, and a rep's changes
(owner, closing it won or lost or back to nurture, notes), each kept in the history and sent as `lead.updated`."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, or_, select

from models import Conversation, Lead, LeadChange, Message, Rep
from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput, NotFound
from salesbot.inbox import packets
from salesbot.leads import crm, qualification
from salesbot.webhooks import outbox

SET_BY_REPS = ("won", "lost", "nurture")


def get_all(
    *, uow: UnitOfWork, status: str | None = None, owner: str | None = None, min_score: float | None = None,
    q: str | None = None, page_size: int = 50, cursor: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Leads, newest change first, a page at a time (`next_cursor`)."""
    query = select(Lead).order_by(Lead.updated_at.desc(), Lead.id.desc())
    if status:
        query = query.where(Lead.status == status)
    if owner:
        query = query.where(Lead.owner == owner)
    if min_score is not None:
        query = query.where(Lead.score >= min_score)
    if q:
        words = f"%{q.lower()}%"
        query = query.where(or_(cast(Lead.fields, String).ilike(words), Lead.customer_id.ilike(words),
                                Lead.notes.ilike(words)))  # fmt: skip
    if cursor:
        moment, lead_id = _cursor(cursor)
        query = query.where(or_(Lead.updated_at < moment, (Lead.updated_at == moment) & (Lead.id < lead_id)))
    with uow:
        found = list(uow.session.scalars(query.limit(page_size + 1)))
    more = len(found) > page_size
    found = found[:page_size]
    return {"leads": [_row(lead) for lead in found], "next_cursor": _next(found[-1]) if more else None}


def get(*, uow: UnitOfWork, lead_id: str, now: datetime) -> dict[str, Any]:
    with uow:
        lead = _get(uow, lead_id)
        conversation = uow.session.get(Conversation, lead.conversation_id)
        said = uow.session.scalars(
            select(Message).where(Message.conversation_id == conversation.id).order_by(Message.seq)
        ).all()
        changes = uow.session.scalars(select(LeadChange).where(LeadChange.lead_id == lead.id).order_by(LeadChange.id))
        return _row(lead) | {
            "packet": packets.packet(uow.session, conversation, now=now),
            "transcript": [
                {"seq": m.seq, "author": m.author, "text": m.text, "at": m.created_at.isoformat()} for m in said
            ],
            "history": [
                {
                    "from_status": c.from_status,
                    "to_status": c.to_status,
                    "reason": c.reason,
                    "score": c.score,
                    "changed_by": c.changed_by,
                    "changes": c.changes,
                    "changed_at": c.changed_at.isoformat(),
                }
                for c in changes
            ],
        }


def update(*, uow: UnitOfWork, lead_id: str, changed_by: str | None, now: datetime, link: str, **values: Any):  # type: ignore[no-untyped-def]
    """A rep's change; the status may only become won, lost or nurture."""
    status = values.get("status")
    if status is not None and status not in SET_BY_REPS:
        raise InvalidInput.for_field("status", f"a rep may set {', '.join(SET_BY_REPS)}")
    with uow:
        lead = _get(uow, lead_id)
        if "owner" in values and values["owner"] is not None and uow.session.get(Rep, values["owner"]) is None:
            raise InvalidInput.for_field("owner", f"no rep {values['owner']!r}")
        before = {"owner": lead.owner, "notes": lead.notes, "status": lead.status}
        for name in ("owner", "notes"):
            if name in values:
                setattr(lead, name, values[name])
        previous = lead.status
        if status is not None:
            lead.status = status
        after = {"owner": lead.owner, "notes": lead.notes, "status": lead.status}
        if after == before:
            return _row(lead)
        lead.updated_at = now
        uow.session.add(LeadChange(lead_id=lead.id, from_status=previous, to_status=lead.status, score=lead.score,
                                   reason="changed by a rep", changed_by=changed_by, changed_at=now,
                                   changes={"before": before, "after": after}))  # fmt: skip
        conversation = uow.session.get(Conversation, lead.conversation_id)
        data = crm.lead_data(uow.session, conversation, lead, link=link)
        outbox.emit(uow.session, "lead.updated", data | {"previous_status": previous, "changed": after}, now=now)
        uow.commit()
        return _row(lead)


def _get(uow: UnitOfWork, lead_id: str) -> Lead:
    lead = uow.session.get(Lead, lead_id)
    if lead is None:
        raise NotFound(f"no lead {lead_id!r}")
    return lead


def _row(lead: Lead) -> dict[str, Any]:
    return {
        "lead_id": lead.id, "conversation_id": lead.conversation_id, "customer_id": lead.customer_id,
        "status": lead.status, "score": lead.score, "fields": qualification.known(lead.fields),
        "declined": qualification.declined(lead.fields), "owner": lead.owner, "notes": lead.notes,
        "updated_at": lead.updated_at.isoformat(),
    }  # fmt: skip


def _next(lead: Lead) -> str:
    raw = json.dumps([lead.updated_at.isoformat(), lead.id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _cursor(cursor: str) -> tuple[datetime, str]:
    try:
        moment, lead_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        when = datetime.fromisoformat(moment)
        if when.tzinfo is None:
            raise ValueError("naive")
        return when, str(lead_id)
    except (ValueError, TypeError) as exc:
        raise InvalidInput.for_field("cursor", "not a cursor this API gave") from exc
