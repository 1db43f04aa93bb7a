"""What an export reads: the conversations that pass its filters, a batch at a time in the order they started, each
with its lines, its lead's fields, the staff's feedback on its bot lines, the offer codes it could hold and the
prompt variant its experiment arm gave the LLM."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from models import (
    Conversation,
    Experiment,
    ExperimentUnit,
    Exposure,
    Faq,
    Lead,
    LeadChange,
    Message,
    MessageFeedback,
    Offer,
    OfferCode,
    Rep,
)
from salesbot.analytics import outcomes
from salesbot.database import UnitOfWork

OUTCOMES = ("qualified", "purchased")
BATCH = 500


@dataclass(frozen=True)
class Filters:
    """Which conversations an export takes: started in [since, until), rated at least `min_csat`, and whose lead
    was qualified or to which a purchase is credited (within `purchase_days`, as the KPIs credit them)."""

    since: datetime | None = None
    until: datetime | None = None
    min_csat: int | None = None
    outcome: str | None = None
    purchase_days: int = 14

    def shown(self) -> dict[str, Any]:
        """The filters as the manifest records them."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "min_csat": self.min_csat,
            "outcome": self.outcome,
            "purchase_days": self.purchase_days if self.outcome == "purchased" else None,
        }


@dataclass(frozen=True)
class Line:
    seq: int
    author: str  # visitor, bot, rep, system
    text: str
    details: dict[str, Any]
    brain: str | None
    at: datetime


@dataclass(frozen=True)
class Verdict:
    """The staff's feedback on one bot line: ratings summed (+1 up, -1 down), and the newest correction."""

    rating: int = 0
    correction: str | None = None


@dataclass(frozen=True)
class Transcript:
    conversation_id: str
    visitor_id: str | None
    customer_id: str | None
    schema_version: int
    started_at: datetime
    lines: tuple[Line, ...]
    fields: dict[str, Any]  # the lead's, as they stand
    feedback: dict[int, Verdict] = field(default_factory=dict)  # by the bot line's seq
    codes: tuple[str, ...] = ()  # offer codes this conversation could hold or show
    variant: str | None = None  # the prompt variant its experiment arm (or a winner) chose


@dataclass(frozen=True)
class Batch:
    read: int  # conversations read, those without a purchase credited included
    transcripts: list[Transcript]


def count(*, uow: UnitOfWork, filters: Filters) -> int:
    """How many conversations pass the filters that SQL applies (the purchase credit is applied while reading)."""
    with uow:
        return int(uow.session.scalar(select(func.count()).select_from(_chosen(filters).subquery())) or 0)


def links(*, uow: UnitOfWork, size: int = 5000) -> Iterator[list[tuple[str, str]]]:
    """(visitor id, customer id) pairs of every conversation that carries both, chosen or not (a sign-in in a
    conversation the filters leave out still makes its visitor and customer one person), a batch at a time."""
    query = select(Conversation.visitor_id, Conversation.customer_id).distinct()
    query = query.where(Conversation.visitor_id.is_not(None), Conversation.customer_id.is_not(None))
    with uow:
        result = uow.session.execute(query).yield_per(size)
        for part in result.partitions():
            yield [(visitor, customer) for visitor, customer in part]


def batches(
    *, uow: Callable[[], UnitOfWork], filters: Filters, size: int = BATCH, rated_up: bool = False
) -> Iterator[Batch]:
    """The chosen conversations, oldest first, `size` read at a time, each batch in its own short transaction;
    with `rated_up`, only those with a bot line the staff rated up."""
    after: tuple[datetime, str] | None = None
    winners = _winners(uow)
    while True:
        with uow() as work:
            rows = work.session.execute(_page(filters, after, size, rated_up=rated_up)).all()
            if not rows:
                return
            after = (rows[-1].created_at, rows[-1].id)
            read = len(rows)
            if filters.outcome == "purchased":
                credited = outcomes.credited(work.session, conversation_ids=[r.id for r in rows],
                                             days=filters.purchase_days)  # fmt: skip
                rows = [row for row in rows if row.id in credited]
            found = _read(work.session, rows, winners)
        yield Batch(read=read, transcripts=found)


def faqs(*, uow: UnitOfWork, ids: set[str]) -> dict[str, tuple[str, str]]:
    """Question and answer of each FAQ id (those deleted since are missing)."""
    if not ids:
        return {}
    with uow:
        rows = uow.session.execute(select(Faq.id, Faq.question, Faq.answer).where(Faq.id.in_(sorted(ids))))
        return {faq_id: (question, answer) for faq_id, question, answer in rows}


def staff(*, uow: UnitOfWork) -> tuple[str, ...]:
    """Every rep's name: a rep's correction, or a bot line quoting one, may carry it."""
    with uow:
        return tuple(uow.session.scalars(select(Rep.name).order_by(Rep.name)))


def _chosen(filters: Filters) -> Select:
    query = select(Conversation.id, Conversation.created_at)
    if filters.since is not None:
        query = query.where(Conversation.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(Conversation.created_at < filters.until)
    if filters.min_csat is not None:
        query = query.where(Conversation.csat >= filters.min_csat)
    if filters.outcome == "qualified":  # the lead is qualified now, or was once (it may have moved on since)
        was = select(LeadChange.lead_id).where(LeadChange.to_status == outcomes.QUALIFIED)
        leads = select(Lead.conversation_id).where(or_(Lead.status == outcomes.QUALIFIED, Lead.id.in_(was)))
        query = query.where(Conversation.id.in_(leads))
    return query


def _page(filters: Filters, after: tuple[datetime, str] | None, size: int, *, rated_up: bool) -> Select:
    query = _chosen(filters).with_only_columns(
        Conversation.id, Conversation.created_at, Conversation.visitor_id, Conversation.customer_id,
        Conversation.schema_version,
    )  # fmt: skip
    if rated_up:
        query = query.where(
            Conversation.id.in_(select(MessageFeedback.conversation_id).where(MessageFeedback.rating > 0))
        )
    if after is not None:
        at, last = after
        query = query.where(
            or_(Conversation.created_at > at, and_(Conversation.created_at == at, Conversation.id > last))
        )
    return query.order_by(Conversation.created_at, Conversation.id).limit(size)


def _read(session: Session, rows: list[Any], winners: list[tuple[datetime, str]]) -> list[Transcript]:
    ids = [row.id for row in rows]
    if not ids:
        return []
    lines = _lines(session, ids)
    fields = dict(session.execute(select(Lead.conversation_id, Lead.fields).where(Lead.conversation_id.in_(ids))).all())
    feedback = _feedback(session, ids)
    codes = _codes(session, rows)
    arms = _arms(session, rows)
    found = []
    for row in rows:
        said = lines.get(row.id, ())
        last = said[-1].at if said else row.created_at
        variant = next((prompt for unit, since, prompt in arms if unit in (row.visitor_id, row.customer_id)
                        and since <= last), None) or _default(winners, row.created_at)  # fmt: skip
        found.append(
            Transcript(
                conversation_id=row.id, visitor_id=row.visitor_id, customer_id=row.customer_id,
                schema_version=row.schema_version, started_at=row.created_at, lines=tuple(said),
                fields=fields.get(row.id) or {}, feedback=feedback.get(row.id, {}),
                codes=tuple(codes.get(row.id, ())), variant=variant,
            )
        )  # fmt: skip
    return found


def _lines(session: Session, ids: list[str]) -> dict[str, list[Line]]:
    query = (
        select(Message.conversation_id, Message.seq, Message.author, Message.text, Message.details, Message.brain,
               Message.created_at)
        .where(Message.conversation_id.in_(ids))
        .order_by(Message.conversation_id, Message.seq, Message.id)
    )  # fmt: skip
    found: dict[str, list[Line]] = defaultdict(list)
    for conversation_id, seq, author, text, details, brain, at in session.execute(query):
        found[conversation_id].append(Line(seq or 0, author, text, details or {}, brain, at))
    return found


def _feedback(session: Session, ids: list[str]) -> dict[str, dict[int, Verdict]]:
    """Per conversation and bot line: the ratings summed and the newest correction (only these columns are read)."""
    query = (
        select(MessageFeedback.conversation_id, MessageFeedback.seq, MessageFeedback.rating,
               MessageFeedback.correction)
        .where(MessageFeedback.conversation_id.in_(ids))
        .order_by(MessageFeedback.updated_at, MessageFeedback.id)
    )  # fmt: skip
    found: dict[str, dict[int, Verdict]] = defaultdict(dict)
    for conversation_id, seq, rating, correction in session.execute(query):
        before = found[conversation_id].get(seq, Verdict())
        found[conversation_id][seq] = Verdict(
            rating=before.rating + (rating or 0),
            correction=correction if correction and correction.strip() else before.correction,
        )
    return found


def _codes(session: Session, rows: list[Any]) -> dict[str, set[str]]:
    """The offer codes each conversation could hold: those shown in it, its buyer's own codes, and shared codes."""
    shared = set(session.scalars(select(Offer.code).where(Offer.code.is_not(None))))
    units = {row.id: {f"c:{row.customer_id}", f"v:{row.visitor_id}"} for row in rows}
    every_unit = sorted({key for keys in units.values() for key in keys})
    by_unit: dict[str, set[str]] = defaultdict(set)
    for code, unit in session.execute(
        select(OfferCode.code, OfferCode.unit_key).where(OfferCode.unit_key.in_(every_unit))
    ):
        by_unit[unit].add(code)
    found = {cid: shared.union(*(by_unit[key] for key in keys)) for cid, keys in units.items()}
    shown = select(Exposure.conversation_id, Exposure.code).where(
        Exposure.conversation_id.in_(list(units)), Exposure.code.is_not(None)
    )
    for cid, code in session.execute(shown):
        found[cid].add(code)
    return found


def _arms(session: Session, rows: list[Any]) -> list[tuple[str, datetime, str]]:
    """(unit id, first exposed, prompt variant) for the batch's units in experiments whose arm sets a prompt."""
    units = sorted({unit for row in rows for unit in (row.visitor_id, row.customer_id) if unit})
    query = (
        select(ExperimentUnit.unit_id, ExperimentUnit.first_exposed_at, ExperimentUnit.arm, Experiment.arms)
        .join(Experiment, Experiment.id == ExperimentUnit.experiment_id)
        .where(ExperimentUnit.unit_id.in_(units))
        .order_by(ExperimentUnit.first_exposed_at)
    )
    found = []
    for unit, since, arm, arms in session.execute(query):
        prompt = next((a.get("prompt") for a in arms or [] if a.get("name") == arm), None)
        if prompt:
            found.append((unit, since, prompt))
    return found


def _winners(uow: Callable[[], UnitOfWork]) -> list[tuple[datetime, str]]:
    """(stopped at, prompt) of stopped experiments whose winning arm set a prompt, oldest first: what the LLM was
    given by default from then on (see `offers.decisions.Desk.defaults`)."""
    with uow() as work:
        query = select(Experiment.stopped_at, Experiment.winner, Experiment.arms).where(
            Experiment.winner.is_not(None), Experiment.stopped_at.is_not(None)
        )
        found = []
        for stopped_at, winner, arms in work.session.execute(query.order_by(Experiment.stopped_at)):
            prompt = next((a.get("prompt") for a in arms or [] if a.get("name") == winner), None)
            if prompt:
                found.append((stopped_at, prompt))
        return found


def _default(winners: list[tuple[datetime, str]], started: datetime) -> str | None:
    return next((prompt for stopped_at, prompt in reversed(winners) if stopped_at <= started), None)
