"""The outcome of each conversation started in a window: one row with how it went (bot only or handed off, how
long people waited, rating, lead, purchases that followed, LLM use). The KPIs, their drill-downs and the CSV export
read these rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from models import (
    Conversation,
    Event,
    Experiment,
    ExperimentUnit,
    HandoffChange,
    Item,
    Lead,
    LeadChange,
    Message,
    MessageFeedback,
)
from salesbot.analytics.sources import corrections, frame
from salesbot.analytics.window import EARLIEST, LATEST, Window
from salesbot.database import UnitOfWork

REOPEN_WITHIN = timedelta(days=7)
QUALIFIED = "qualified"
FEEDBACK = ("lines_rated", "lines_rated_up", "lines_rated_down", "corrections")
COLUMNS = [
    "conversation_id", "started_at", "period", "channel", "status", "closed_at", "brain", "bot_turns", "llm_turns",
    "fallbacks", "handed_off", "handoff_reason", "human_wait_seconds", "first_human_response_seconds", "reopened",
    "bot_resolved", "csat", "lead_status", "qualified", "purchased", "revenue", "prompt_tokens",
    "completion_tokens", "arm", *FEEDBACK,
]  # fmt: skip


def outcomes(*, uow: UnitOfWork, window: Window, purchase_days: int) -> pd.DataFrame:
    """One row per conversation started in the window, in `COLUMNS`, oldest first."""
    with uow:
        session = uow.session
        later = max(REOPEN_WITHIN, timedelta(days=purchase_days))  # who came back, and whose purchase is whose
        started = frame(session, _started(window.start, window.end + later))
        if started.empty:
            return pd.DataFrame(columns=COLUMNS)
        started["actor"] = _actors(started)
        started["reopened"] = _reopened(started)
        credits = _credits(started, frame(session, _purchases(window, purchase_days)), purchase_days)
        rows = started[Window.moments(started.started_at) < pd.Timestamp(window.end)].copy()
        rows = rows.merge(frame(session, _handoffs(window)), how="left", on="conversation_id")
        rows = rows.merge(frame(session, _turns(window, session)), how="left", on="conversation_id")
        rows = rows.merge(frame(session, _leads(window)), how="left", on="conversation_id")
        rows = rows.merge(frame(session, _feedback(window)), how="left", on="conversation_id")
        rows = rows.merge(credits, how="left", left_on="conversation_id", right_index=True)
        rows["purchases"] = rows.purchases.fillna(0).astype(int)
        rows["revenue"] = rows.revenue.fillna(0.0).astype(float)
        rows["arm"] = rows.actor.map(_arms(session, window)).astype(object)
    return _finished(rows, window)


def credited(session: Session, *, conversation_ids: Sequence[str], days: int) -> set[str]:
    """Of these conversations, those a purchase is credited to, by the rule of `_credits`: read for their buyers
    alone (their conversations that could take a purchase's credit, and their purchases), not for a whole window."""
    mine = frame(session, _started(EARLIEST, LATEST).where(Conversation.id.in_(list(conversation_ids))))
    if mine.empty:
        return set()
    start, end = Window.moments(mine.started_at).min(), Window.moments(mine.started_at).max()
    later = end + timedelta(days=days)
    customers = sorted(set(mine.customer_id.dropna()))
    visitors = sorted(set(mine.visitor_id[mine.customer_id.isna()].dropna()))
    buyers = (Conversation.customer_id.in_(customers),
              and_(Conversation.customer_id.is_(None), Conversation.visitor_id.in_(visitors)))  # fmt: skip
    talks = frame(session, _started(start, later).where(or_(*buyers)))
    bought_by = (Event.customer_id.in_(customers), and_(Event.customer_id.is_(None), Event.visitor_id.in_(visitors)))
    bought = frame(session, _purchases(Window(start=start, end=end), days).where(or_(*bought_by)))
    credits = _credits(talks.assign(actor=_actors(talks)), bought, days)
    return set(credits.index) & set(conversation_ids)


def _actors(rows: pd.DataFrame) -> np.ndarray:
    """Who each row is: `c:<customer>` when known, else `v:<visitor>`."""
    return np.where(rows.customer_id.notna(), "c:" + rows.customer_id.fillna(""), "v:" + rows.visitor_id.fillna(""))


def _started(start: Any, end: Any) -> Select:
    return (
        select(
            Conversation.id.label("conversation_id"), Conversation.created_at.label("started_at"),
            Conversation.channel, Conversation.status, Conversation.closed_at, Conversation.handoff_reason,
            Conversation.csat, Conversation.customer_id, Conversation.visitor_id,
        )
        .where(Conversation.created_at >= start, Conversation.created_at < end)
        .order_by(Conversation.created_at, Conversation.id)
    )  # fmt: skip


def _in_window(query: Select, window: Window, on: Any) -> Select:
    return query.join(Conversation, Conversation.id == on).where(
        Conversation.created_at >= window.start, Conversation.created_at < window.end
    )


def _handoffs(window: Window) -> Select:
    first = lambda state: func.min(case((HandoffChange.to_state == state, HandoffChange.changed_at)))  # noqa: E731
    query = select(
        HandoffChange.conversation_id, first("queued").label("queued_at"), first("live").label("accepted_at")
    )
    return _in_window(query, window, HandoffChange.conversation_id).group_by(HandoffChange.conversation_id)


def _turns(window: Window, session: Session) -> Select:
    """Per conversation: the bot's turns, those the LLM wrote, fallbacks to the rules brain (a rules turn that
    says why: the LLM failed, was unsafe or over budget), tokens, and the first rep line."""
    count = lambda condition: func.sum(case((condition, 1), else_=0))  # noqa: E731
    bot = Message.author == "bot"
    query = select(
        Message.conversation_id,
        count(bot).label("bot_turns"),
        count(Message.brain == "llm").label("llm_turns"),
        count(bot & (Message.brain == "rules") & (corrections(session) > 0)).label("fallbacks"),
        func.sum(func.coalesce(Message.prompt_tokens, 0)).label("prompt_tokens"),
        func.sum(func.coalesce(Message.completion_tokens, 0)).label("completion_tokens"),
        func.min(case((Message.author == "rep", Message.created_at))).label("first_rep_at"),
    )
    return _in_window(query, window, Message.conversation_id).group_by(Message.conversation_id)


def _leads(window: Window) -> Select:
    ever = (
        select(LeadChange.lead_id, func.max(case((LeadChange.to_status == QUALIFIED, 1), else_=0)).label("ever"))
        .group_by(LeadChange.lead_id)
        .subquery()
    )
    query = select(Lead.conversation_id, Lead.status.label("lead_status"), ever.c.ever.label("was_qualified")).join(
        ever, ever.c.lead_id == Lead.id, isouter=True
    )
    return _in_window(query, window, Lead.conversation_id)


def _feedback(window: Window) -> Select:
    """Per conversation: its bot lines the store's people rated, those rated up (more ups than downs) and down (more
    downs than ups), and the corrections written."""
    count = lambda condition: func.sum(case((condition, 1), else_=0))  # noqa: E731
    lines = (
        select(
            MessageFeedback.conversation_id, func.sum(func.coalesce(MessageFeedback.rating, 0)).label("net"),
            func.count(MessageFeedback.rating).label("ratings"),
            func.count(MessageFeedback.correction).label("corrections"),
        )
        .group_by(MessageFeedback.conversation_id, MessageFeedback.seq)
        .subquery()
    )  # fmt: skip
    query = select(
        lines.c.conversation_id, count(lines.c.ratings > 0).label("lines_rated"),
        count(lines.c.net > 0).label("lines_rated_up"), count(lines.c.net < 0).label("lines_rated_down"),
        func.sum(lines.c.corrections).label("corrections"),
    )  # fmt: skip
    return _in_window(query, window, lines.c.conversation_id).group_by(lines.c.conversation_id)


def _purchases(window: Window, days: int) -> Select:
    revenue = func.coalesce(Event.value, 1.0) * func.coalesce(Item.price, 0)
    return (
        select(Event.customer_id, Event.visitor_id, Event.occurred_at, revenue.label("revenue"))
        .join(Item, Item.item_id == Event.item_id, isouter=True)
        .where(Event.type == "purchase", Event.occurred_at >= window.start)
        .where(Event.occurred_at < window.end + timedelta(days=days))
    )


def _reopened(started: pd.DataFrame) -> pd.Series:
    """Closed, and the same customer or visitor started another conversation within 7 days after the closing (one
    started while this one was still open does not count, nor hide a later one)."""
    closed = started.assign(at=Window.moments(started.closed_at)).dropna(subset=["at"]).sort_values("at")
    starts = started.assign(at=Window.moments(started.started_at), next_id=started.conversation_id)
    starts = starts[["actor", "at", "next_id"]].sort_values("at")
    found = pd.merge_asof(closed[["conversation_id", "actor", "at"]], starts, on="at", by="actor",
                          direction="forward", tolerance=pd.Timedelta(REOPEN_WITHIN))  # fmt: skip
    came_back = set(found.conversation_id[found.next_id.notna()])
    return started.conversation_id.isin(came_back)


def _credits(started: pd.DataFrame, bought: pd.DataFrame, days: int) -> pd.DataFrame:
    """Each purchase goes to the latest conversation of the same customer (or visitor) started before it and at
    most `days` days earlier, whether or not that one started in the window; per conversation, the purchases' count
    and revenue."""
    if bought.empty:
        return pd.DataFrame(columns=["purchases", "revenue"])
    bought = bought.assign(
        actor=_actors(bought), at=Window.moments(bought.occurred_at), revenue=bought.revenue.astype(float)
    ).sort_values("at")
    talks = started[["conversation_id", "actor"]].assign(at=Window.moments(started.started_at))
    matched = pd.merge_asof(bought, talks.sort_values("at"), on="at", by="actor", direction="backward",
                            tolerance=pd.Timedelta(days=days))  # fmt: skip
    return (
        matched.dropna(subset=["conversation_id"])
        .groupby("conversation_id")
        .agg(purchases=("revenue", "size"), revenue=("revenue", "sum"))
    )


def _arms(session: Session, window: Window) -> dict[str, str]:
    """Each unit's experiment arm as "experiment: arm" (the earliest experiment it entered)."""
    query = (
        select(Experiment.name, ExperimentUnit.unit_id, ExperimentUnit.arm, Experiment.unit)
        .join(Experiment, Experiment.id == ExperimentUnit.experiment_id)
        .where(ExperimentUnit.first_exposed_at < window.end)
        .order_by(ExperimentUnit.first_exposed_at.desc())
    )
    prefix = {"customer": "c:", "visitor": "v:"}
    return {
        f"{prefix.get(unit, 'v:')}{unit_id}": f"{name}: {arm}" for name, unit_id, arm, unit in session.execute(query)
    }


def _finished(rows: pd.DataFrame, window: Window) -> pd.DataFrame:
    for name in ("started_at", "closed_at", "queued_at", "accepted_at", "first_rep_at"):
        rows[name] = Window.moments(rows[name])
    for name in ("bot_turns", "llm_turns", "fallbacks", "prompt_tokens", "completion_tokens", *FEEDBACK):
        rows[name] = rows[name].fillna(0).astype(int)
    rows["period"] = window.periods(rows.started_at)
    rows["brain"] = np.where(rows.llm_turns > 0, "llm", np.where(rows.bot_turns > 0, "rules", "none"))
    rows["handed_off"] = rows.queued_at.notna() | rows.handoff_reason.notna()
    rows["human_wait_seconds"] = (rows.accepted_at - rows.queued_at).dt.total_seconds()
    rows["first_human_response_seconds"] = (rows.first_rep_at - rows.queued_at).dt.total_seconds()
    rows["reopened"] = rows.reopened.fillna(False).astype(bool)
    rows["bot_resolved"] = (rows.status == "closed") & ~rows.handed_off & ~rows.reopened
    rows["qualified"] = (rows.was_qualified.fillna(0) > 0) | (rows.lead_status == QUALIFIED)
    rows["purchased"] = rows.purchases > 0
    return rows[COLUMNS].reset_index(drop=True)
