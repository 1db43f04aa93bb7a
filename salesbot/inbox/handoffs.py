"""Who speaks in a conversation after a hand-off: bot -> queued -> assigned -> live -> resolved, or back to the bot.

Every change is one transaction that locks the conversation's row, keeps a `HandoffChange` (who, when, why) and
emits a webhook event; a rep's reply and a visitor's message while a person holds the conversation are lines with
the next sequence number. The bot never speaks while the conversation is queued, assigned or live.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Conversation, Customer, HandoffChange, Lead, Message, Rep
from salesbot.config import Settings
from salesbot.conversation import lines
from salesbot.database import UnitOfWork
from salesbot.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unavailable
from salesbot.inbox import hours, reps, routing
from salesbot.leads import crm
from salesbot.webhooks import outbox

log = logging.getLogger(__name__)
WITH_A_PERSON = ("queued", "assigned", "live")
HOLDING = ("assigned", "live")  # what counts against a rep's capacity
OWNER_ATTRIBUTE = "owner"  # a customer attribute naming their rep (id or e-mail)
WAIT_PER_PLACE = timedelta(minutes=3)  # the first estimate, before any hand-off has been accepted


@dataclass(frozen=True)
class Place:
    """Where a waiting visitor stands: position in the queue (1 = next) and an estimate of the wait."""

    position: int
    wait_seconds: int


def hand_off(session: Session, conversation: Conversation, *, reason: str, settings: Settings, now: datetime) -> str:
    """Queue the conversation for a person, or, out of hours or with nobody online, keep it with the bot to take a
    message ("message"). Answers the new state. The caller commits, then routes."""
    if conversation.handoff_state in WITH_A_PERSON:
        return conversation.handoff_state
    if not _anyone_there(session, settings, now):  # the bot stays and takes a message; the CRM hears of it
        if conversation.handoff_state != "message":
            _change(session, conversation, "message", reason=f"nobody online: {reason}", now=now)
        conversation.status = "awaiting_human"
        return "message"
    conversation.waiting_since = now
    _change(session, conversation, "queued", reason=reason, now=now)
    conversation.status = "awaiting_human"
    return "queued"


def place(session: Session, conversation: Conversation, *, now: datetime) -> Place | None:
    """The visitor's place in the queue while they wait; None when a person has it or it is not waiting."""
    if conversation.handoff_state != "queued" or conversation.waiting_since is None:
        return None
    ahead = session.scalar(
        select(func.count()).where(Conversation.handoff_state == "queued",
                                   Conversation.waiting_since < conversation.waiting_since)
    )  # fmt: skip
    position = int(ahead or 0) + 1
    return Place(position, int(position * _typical_wait(session, now).total_seconds()))


def route(*, uow: UnitOfWork, settings: Settings, now: datetime) -> list[str]:
    """Offer waiting conversations, oldest first, to reps who fit and have room; take back offers not accepted
    within `accept_seconds` (that rep is skipped next time). Answers the conversations that changed."""
    changed: list[str] = []
    with uow:
        # One router at a time: the reps' rows are locked (PostgreSQL) before their loads are counted, so two
        # routers never both give a rep their last free place.
        uow.session.execute(select(Rep.id).order_by(Rep.id).with_for_update()).all()
        _expire_offers(uow.session, settings, now, changed)
        candidates = _candidates(uow.session, settings, now)
        if not any(c.online and c.load < c.capacity for c in candidates.values()):
            uow.commit()
            return changed  # nobody has room: the queue waits, at the cost of one read
        waiting = uow.session.scalars(
            select(Conversation).where(Conversation.handoff_state == "queued")
            .order_by(Conversation.waiting_since, Conversation.id).with_for_update(skip_locked=True)
        ).all()  # fmt: skip
        if waiting:
            for conversation in waiting:
                if not any(c.online and c.load < c.capacity for c in candidates.values()):
                    break
                need = _need(uow.session, conversation)
                skip = _timed_out(uow.session, conversation.id)
                chosen = routing.choose(candidates=list(candidates.values()), need=need, policy=settings.routing,
                                        skip=skip)  # fmt: skip
                if chosen is None:
                    continue
                conversation.rep_id, conversation.offered_at = chosen, now
                _change(uow.session, conversation, "assigned", rep_id=chosen, reason="routed", now=now)
                candidates[chosen] = _loaded(candidates[chosen], now)
                uow.session.get(Rep, chosen).last_assigned_at = now
                changed.append(conversation.id)
        uow.commit()
    return changed


def route_soon(*, uow: UnitOfWork, settings: Settings, now: datetime) -> None:
    """Route now if the database lets us at once; when it is busy (another router, SQLite's one writer), the
    worker's round within seconds does it. Never fails the request that asked."""
    try:
        route(uow=uow, settings=settings, now=now)
    except Unavailable:
        log.info("routing deferred to the worker: the database was busy")


def closed(session: Session, conversation: Conversation, *, now: datetime) -> None:
    """The conversation is being closed (by the visitor or the store): a person's part in it ends too."""
    if conversation.handoff_state in WITH_A_PERSON:
        _change(session, conversation, "resolved", rep_id=conversation.rep_id, reason="closed", now=now)


def accept(*, uow: UnitOfWork, conversation_id: str, rep: Rep, by: str | None, now: datetime) -> Conversation:
    """The rep takes the conversation: offered to them, or straight from the queue when they have room."""
    with uow:
        conversation = _locked(uow, conversation_id)
        if conversation.handoff_state == "live" and conversation.rep_id == rep.id:
            return conversation  # a retried accept changes nothing
        if conversation.status == "closed":
            raise Conflict(f"conversation {conversation_id} is closed")
        _hold_rep(uow.session, rep.id)
        offered_to_me = conversation.handoff_state == "assigned" and conversation.rep_id == rep.id
        if not (offered_to_me or conversation.handoff_state == "queued"):
            raise Conflict(f"conversation {conversation_id} is {conversation.handoff_state}; it cannot be accepted")
        if not offered_to_me and load(uow.session, rep.id) >= rep.capacity:
            raise Conflict(f"you hold {rep.capacity} conversation(s), your capacity; resolve or release one first")
        conversation.rep_id, conversation.status = rep.id, "live"
        _change(uow.session, conversation, "live", rep_id=rep.id, by=by, reason="accepted", now=now)
        lines.append(uow.session, conversation, author="system", text=f"{rep.name} joined the conversation.",
                     details={"rep": {"rep_id": rep.id, "name": rep.name}, "event": "joined"})  # fmt: skip
        uow.commit()
        return conversation


def reply(*, uow: UnitOfWork, conversation_id: str, rep: Rep, text: str, now: datetime) -> Message:
    """The rep's words to the visitor; only the rep holding the live conversation may speak."""
    with uow:
        conversation = _locked(uow, conversation_id)
        if conversation.handoff_state != "live" or conversation.rep_id != rep.id:
            raise Conflict(f"conversation {conversation_id} is not live with you; accept it first")
        line = lines.append(uow.session, conversation, author="rep", text=text, rep_id=rep.id,
                            details={"rep": {"rep_id": rep.id, "name": rep.name}})  # fmt: skip
        conversation.updated_at = now
        uow.commit()
        return line


def transfer(
    *, uow: UnitOfWork, conversation_id: str, rep: Rep | None, to_rep: str | None, team: str | None,
    by: str | None, now: datetime, settings: Settings,
) -> Conversation:  # fmt: skip
    """Hand the conversation to another rep (offered to them) or back to the queue for a team."""
    if not (to_rep or team):
        raise InvalidInput.for_field("rep_id", "send rep_id or team")
    with uow:
        conversation = _locked(uow, conversation_id)
        _held_by(conversation, rep)
        if to_rep is not None:
            target = uow.session.get(Rep, to_rep)
            if target is None:
                raise InvalidInput.for_field("rep_id", f"no rep {to_rep!r}")
            _hold_rep(uow.session, to_rep)
            if not reps.is_online(target, now=now, presence_seconds=settings.presence_seconds):
                raise Conflict(f"{target.name} is away; transfer to a team instead")
            if load(uow.session, to_rep) >= target.capacity:
                raise Conflict(f"{target.name} is at capacity; transfer to a team instead")
            conversation.rep_id, conversation.offered_at, conversation.status = to_rep, now, "awaiting_human"
            _change(uow.session, conversation, "assigned", rep_id=to_rep, by=by, now=now,
                    reason=f"transferred by {rep.name if rep else 'a supervisor'}")  # fmt: skip
        else:
            conversation.rep_id, conversation.waiting_since, conversation.status = None, now, "awaiting_human"
            _change(uow.session, conversation, "queued", by=by, rep_id=rep.id if rep else None, now=now,
                    reason=f"transferred by {rep.name if rep else 'a supervisor'}", team=team)  # fmt: skip
        lines.append(uow.session, conversation, author="system", text="You are being transferred to a colleague.",
                     details={"event": "transferred"})  # fmt: skip
        uow.commit()
        return conversation


def release(*, uow: UnitOfWork, conversation_id: str, rep: Rep | None, by: str | None, now: datetime) -> Conversation:
    """Back to the bot: it speaks again from the next message."""
    with uow:
        conversation = _locked(uow, conversation_id)
        _held_by(conversation, rep)
        conversation.rep_id, conversation.status, conversation.misunderstood = None, "open", 0
        _change(uow.session, conversation, "bot", by=by, reason="released to the assistant", now=now)
        lines.append(uow.session, conversation, author="system", text="The assistant is back with you.",
                     details={"event": "released"})  # fmt: skip
        uow.commit()
        return conversation


def resolve(*, uow: UnitOfWork, conversation_id: str, rep: Rep | None, by: str | None, now: datetime) -> Conversation:
    with uow:
        conversation = _locked(uow, conversation_id)
        _held_by(conversation, rep)
        conversation.status, conversation.closed_at = "closed", now
        _change(uow.session, conversation, "resolved", rep_id=conversation.rep_id, by=by, reason="resolved", now=now)
        closer = rep.name if rep else "A colleague"
        lines.append(uow.session, conversation, author="system", text=f"{closer} closed the conversation.",
                     details={"event": "closed"})  # fmt: skip
        lead = uow.session.scalar(select(Lead).where(Lead.conversation_id == conversation.id))
        crm.closed(uow.session, conversation, lead, link="")
        uow.commit()
        return conversation


def history(*, uow: UnitOfWork, conversation_id: str) -> list[HandoffChange]:
    with uow:
        found = select(HandoffChange).where(HandoffChange.conversation_id == conversation_id).order_by(HandoffChange.id)
        return list(uow.session.scalars(found))


def load(session: Session, rep_id: str) -> int:
    return int(session.scalar(select(func.count()).where(Conversation.rep_id == rep_id,
                                                          Conversation.handoff_state.in_(HOLDING))) or 0)  # fmt: skip


# -- inside -------------------------------------------------------------------------------------------------------


def _change(
    session: Session, conversation: Conversation, state: str, *, reason: str, now: datetime,
    rep_id: str | None = None, by: str | None = None, team: str | None = None,
) -> None:  # fmt: skip
    before = conversation.handoff_state
    conversation.handoff_state, conversation.updated_at = state, now
    if state in ("queued", "bot", "message", "resolved"):
        conversation.offered_at = None
    session.add(HandoffChange(conversation_id=conversation.id, from_state=before, to_state=state, rep_id=rep_id,
                              changed_by=by, reason=(f"{reason} [team {team}]" if team else reason)[:200],
                              changed_at=now))  # fmt: skip
    if state == "message":
        return  # the lead's own event (lead.handoff_requested) tells the CRM; no person is involved yet
    kind = {"queued": "conversation.queued", "assigned": "conversation.assigned", "live": "conversation.live",
            "bot": "conversation.released", "resolved": "conversation.resolved"}[state]  # fmt: skip
    data: dict[str, Any] = {"conversation_id": conversation.id, "from": before, "to": state, "rep_id": rep_id,
                            "reason": reason, "at": now.isoformat()}  # fmt: skip
    outbox.emit(session, kind, data, now=now)


def _locked(uow: UnitOfWork, conversation_id: str) -> Conversation:
    conversation = lines.locked(uow.session, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id!r}")
    return conversation


def _hold_rep(session: Session, rep_id: str) -> None:
    """The rep's row, locked (PostgreSQL) before their load is counted: two takers never share a last place."""
    session.execute(select(Rep.id).where(Rep.id == rep_id).with_for_update()).all()


def _held_by(conversation: Conversation, rep: Rep | None) -> None:
    """A rep acts only on what they hold; a supervisor (an admin key, `rep` None) on any conversation with a
    person, so that nothing stays stranded with a rep who left."""
    if rep is None:
        if conversation.handoff_state not in WITH_A_PERSON:
            raise Conflict(f"conversation {conversation.id} is {conversation.handoff_state}, not with a person")
        return
    if conversation.handoff_state not in HOLDING or conversation.rep_id != rep.id:
        raise PermissionDenied(f"conversation {conversation.id} is not yours (it is {conversation.handoff_state})")


def _anyone_there(session: Session, settings: Settings, now: datetime) -> bool:
    opening = hours.parse(settings.opening_hours)
    if opening is not None and not opening.is_open(now):
        return False
    return any(reps.is_online(rep, now=now, presence_seconds=settings.presence_seconds)
               for rep in session.scalars(select(Rep)))  # fmt: skip


def _candidates(session: Session, settings: Settings, now: datetime) -> dict[str, routing.Candidate]:
    loads = dict(
        session.execute(
            select(Conversation.rep_id, func.count()).where(Conversation.handoff_state.in_(HOLDING))
            .group_by(Conversation.rep_id)
        ).all()
    )  # fmt: skip
    return {
        rep.id: routing.Candidate(
            rep_id=rep.id,
            teams=frozenset(rep.teams or ()),
            languages=frozenset(rep.languages or ()),
            categories=frozenset(rep.categories or ()),
            capacity=rep.capacity,
            load=int(loads.get(rep.id, 0)),
            online=reps.is_online(rep, now=now, presence_seconds=settings.presence_seconds),
            last_assigned_at=rep.last_assigned_at,
        )
        for rep in session.scalars(select(Rep))
    }


def _loaded(candidate: routing.Candidate, now: datetime) -> routing.Candidate:
    return replace(candidate, load=candidate.load + 1, last_assigned_at=now)


def _need(session: Session, conversation: Conversation) -> routing.Need:
    """What the rep should fit: the customer's owner, the team asked for in a transfer, the visitor's language
    and the category of what they need."""
    lead = session.scalar(select(Lead).where(Lead.conversation_id == conversation.id))
    owner = lead.owner if lead is not None else None
    if owner is None and conversation.customer_id:
        customer = session.get(Customer, conversation.customer_id)
        named = (customer.attributes or {}).get(OWNER_ATTRIBUTE) if customer is not None else None
        if isinstance(named, str):
            owner = session.scalar(select(Rep.id).where((Rep.id == named) | (Rep.email == named)))
    need = ((lead.fields or {}).get("need") or {}) if lead is not None else {}
    teams = [c.reason for c in _since_handoff(session, conversation.id) if "[team " in c.reason]
    wanted_team = teams[-1].split("[team ", 1)[1].rstrip("]") if teams else None
    language = ((conversation.page or {}).get("locale") or "")[:2].lower() or None
    category = need.get("category") if isinstance(need, dict) else None
    return routing.Need(owner=owner, team=wanted_team, language=language, category=category)


def _since_handoff(session: Session, conversation_id: str) -> list[HandoffChange]:
    """The changes since the conversation last went from the bot to a person."""
    changes = session.scalars(
        select(HandoffChange).where(HandoffChange.conversation_id == conversation_id).order_by(HandoffChange.id)
    ).all()
    start = max((n for n, c in enumerate(changes) if c.from_state in ("bot", "message")), default=0)
    return list(changes[start:])


def _timed_out(session: Session, conversation_id: str) -> frozenset[str]:
    """Reps not to offer it to again in this hand-off: who let an offer lapse, who transferred it away."""
    return frozenset(
        c.rep_id for c in _since_handoff(session, conversation_id)
        if c.rep_id and (c.reason == "not accepted in time" or (c.to_state == "queued" and
                                                                  c.reason.startswith("transferred by")))
    )  # fmt: skip


def _expire_offers(session: Session, settings: Settings, now: datetime, changed: list[str]) -> None:
    stale = session.scalars(
        select(Conversation).where(Conversation.handoff_state == "assigned",
                                   Conversation.offered_at < now - timedelta(seconds=settings.accept_seconds))
        .with_for_update(skip_locked=True)
    ).all()  # fmt: skip
    for conversation in stale:
        rep_id = conversation.rep_id
        conversation.rep_id = None
        _change(session, conversation, "queued", rep_id=rep_id, reason="not accepted in time", now=now)
        changed.append(conversation.id)


def _typical_wait(session: Session, now: datetime) -> timedelta:
    """How long the last accepted hand-offs waited, as a per-place estimate."""
    accepted = session.execute(
        select(Conversation.waiting_since, HandoffChange.changed_at)
        .join(HandoffChange, HandoffChange.conversation_id == Conversation.id)
        .where(HandoffChange.to_state == "live", HandoffChange.changed_at > now - timedelta(days=7),
               Conversation.waiting_since.is_not(None))
        .order_by(HandoffChange.id.desc()).limit(20)
    ).all()  # fmt: skip
    waits = sorted(max(accepted_at - since, timedelta(0)) for since, accepted_at in accepted if accepted_at >= since)
    return waits[len(waits) // 2] if waits else WAIT_PER_PLACE
