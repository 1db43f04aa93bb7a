"""The rows behind the KPIs that are not one per conversation: the bot's reply times, recommendation lists and what
shoppers did with them, offer exposures and redemptions, experiment units, LLM fallbacks and webhook deliveries.
Each comes back as a frame with a `period` column and the slice columns it can be cut by."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy import DateTime, Select, String, func, literal_column, select, type_coerce
from sqlalchemy.orm import Session

from models import (
    Conversation,
    Delivery,
    Event,
    Experiment,
    ExperimentUnit,
    Exposure,
    Message,
    MessageFeedback,
    OutboxEvent,
    RecommendationCount,
    Redemption,
)
from models.base import UTCDateTime
from salesbot.analytics.window import Window

ANSWERED = ("click", "add_to_cart", "purchase")


def frame(session: Session, query: Select) -> pd.DataFrame:
    """The query's rows as a frame. Times come as the driver gives them (SQLite's text, PostgreSQL's datetimes) and
    are parsed by pandas all at once: parsing each one in Python took most of a report's time."""
    query = query.with_only_columns(*(_as_given(column) for column in query.selected_columns))
    result = session.execute(query)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def _as_given(column: Any) -> Any:
    if isinstance(column.type, DateTime | UTCDateTime):
        return type_coerce(column, String).label(column.key)
    return column


def corrections(session: Session) -> Any:
    """How many corrections a bot line lists in its details (JSON), in the database's own dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return func.coalesce(func.jsonb_array_length(Message.details["corrections"]), 0)
    return func.coalesce(func.json_array_length(Message.details, literal_column("'$.corrections'")), 0)


def reply_times(session: Session, window: Window) -> pd.DataFrame:
    """The server time of each bot line in conversations started in the window."""
    query = (
        select(Message.latency_ms, Message.brain, Conversation.created_at, Conversation.channel)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.created_at >= window.start, Conversation.created_at < window.end)
        .where(Message.author == "bot", Message.latency_ms.is_not(None))
    )
    rows = frame(session, query)
    rows["period"] = window.periods(rows.created_at) if len(rows) else pd.Series(dtype=str)
    return rows


def fallback_reasons(session: Session, window: Window) -> pd.Series:
    """Why the rules brain answered for the LLM, per reason (its first words), most frequent first."""
    query = (
        select(Message.details)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.created_at >= window.start, Conversation.created_at < window.end)
        .where(Message.author == "bot", Message.brain == "rules", corrections(session) > 0)
    )
    reasons = [str((details or {}).get("corrections", ["?"])[0])[:80] for details in session.scalars(query)]
    return pd.Series(reasons, dtype=object).value_counts()


def down_reasons(session: Session, window: Window) -> pd.Series:
    """Why the store's people rated the bot's lines down, per reason, most frequent first (`(none)`: no reason)."""
    query = (
        select(MessageFeedback.reason, func.count())
        .join(Conversation, Conversation.id == MessageFeedback.conversation_id)
        .where(Conversation.created_at >= window.start, Conversation.created_at < window.end)
        .where(MessageFeedback.rating == -1)
        .group_by(MessageFeedback.reason)
    )
    counts = {reason or "(none)": count for reason, count in session.execute(query)}
    return pd.Series(counts, dtype=int).sort_values(ascending=False, kind="stable")


def recommendations(session: Session, window: Window) -> pd.DataFrame:
    """Per day, model version and strategy: lists served, and the clicks, add-to-carts and purchases sent back with
    their recommendation ids."""
    served = frame(
        session,
        select(RecommendationCount.day, RecommendationCount.model_version, RecommendationCount.strategy,
               RecommendationCount.served)
        .where(RecommendationCount.day >= window.start.date(), RecommendationCount.day <= window.last_day),
    )  # fmt: skip
    day = _utc_day(session, Event.occurred_at)
    answered = frame(
        session,
        select(Event.recommendation_id, Event.type, day.label("day"), func.count().label("n"))
        .where(Event.recommendation_id.is_not(None), Event.type.in_(ANSWERED))
        .where(Event.occurred_at >= window.start, Event.occurred_at < window.end)
        .group_by(Event.recommendation_id, Event.type, day),
    )  # fmt: skip
    answered = _credited(answered)
    keys = ["day", "model_version", "strategy"]
    served["day"] = pd.to_datetime(served.day).dt.strftime("%Y-%m-%d") if len(served) else served.day
    rows = served.merge(answered, how="outer", on=keys).fillna(
        {"served": 0, **dict.fromkeys(ANSWERED, 0)}
    )  # fmt: skip
    rows["period"] = window.periods(rows.day) if len(rows) else pd.Series(dtype=str)
    rows["model_version"] = rows.model_version + " / " + rows.strategy if len(rows) else rows.model_version
    return rows


def _utc_day(session: Session, moment: Any) -> Any:
    """The UTC day of a moment, whatever time zone the database session has (SQLite stores UTC text)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", moment))
    return func.date(moment)


def _credited(answered: pd.DataFrame) -> pd.DataFrame:
    """Events per day, version and strategy, read off their recommendation ids (`rec.<version>.<strategy>.<hex>`;
    ids from before strategies were named say `unknown`)."""
    columns = ["day", "model_version", "strategy", *ANSWERED]
    if answered.empty:
        return pd.DataFrame(columns=columns)
    parts = answered.recommendation_id.str.split(".", expand=True).reindex(columns=range(4))
    answered = answered.assign(
        model_version=parts[1].fillna("unknown"),
        strategy=parts[2].where(parts[3].notna(), "unknown").fillna("unknown"),
        day=pd.to_datetime(answered.day).dt.strftime("%Y-%m-%d"),
    )
    table = answered.pivot_table(index=["day", "model_version", "strategy"], columns="type", values="n",
                                 aggfunc="sum", fill_value=0)  # fmt: skip
    return table.reindex(columns=list(ANSWERED), fill_value=0).reset_index()[columns]


def exposures(session: Session, window: Window) -> pd.DataFrame:
    """Offers shown in the window (control arms show none), with their experiment arm."""
    query = (
        select(Exposure.shown_at, Exposure.offer_id, Experiment.name, Exposure.arm)
        .join(Experiment, Experiment.id == Exposure.experiment_id, isouter=True)
        .where(Exposure.shown_at >= window.start, Exposure.shown_at < window.end)
    )
    return _armed(frame(session, query), "shown_at", window)


def redemptions(session: Session, window: Window) -> pd.DataFrame:
    query = select(Redemption.created_at, Redemption.discount, Redemption.order_value).where(
        Redemption.created_at >= window.start, Redemption.created_at < window.end
    )
    rows = frame(session, query)
    rows["period"] = window.periods(rows.created_at) if len(rows) else pd.Series(dtype=str)
    rows["arm"] = None
    return rows


def units(session: Session, window: Window) -> pd.DataFrame:
    """Experiment units first exposed in the window: what each bought and was given, by arm."""
    query = (
        select(ExperimentUnit.first_exposed_at, Experiment.name, ExperimentUnit.arm, ExperimentUnit.purchases,
               ExperimentUnit.revenue, ExperimentUnit.discount)
        .join(Experiment, Experiment.id == ExperimentUnit.experiment_id)
        .where(ExperimentUnit.first_exposed_at >= window.start, ExperimentUnit.first_exposed_at < window.end)
    )  # fmt: skip
    return _armed(frame(session, query), "first_exposed_at", window)


def _armed(rows: pd.DataFrame, moment: str, window: Window) -> pd.DataFrame:
    rows["period"] = window.periods(rows[moment]) if len(rows) else pd.Series(dtype=str)
    named = rows["name"].notna() if len(rows) else pd.Series(dtype=bool)
    rows["arm"] = (rows["name"].astype(str) + ": " + rows["arm"].astype(str)).where(named) if len(rows) else None
    return rows


def deliveries(session: Session, window: Window) -> pd.DataFrame:
    """Webhook deliveries of events written in the window: how each ended and how long after its event."""
    query = (
        select(Delivery.status, Delivery.updated_at, OutboxEvent.created_at)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .where(OutboxEvent.created_at >= window.start, OutboxEvent.created_at < window.end)
    )
    rows = frame(session, query)
    if rows.empty:
        return rows.assign(period=pd.Series(dtype=str), lag=pd.Series(dtype=float))
    rows["period"] = window.periods(rows.created_at)
    lag = window.moments(rows.updated_at) - window.moments(rows.created_at)
    rows["lag"] = lag.dt.total_seconds().where(rows.status == "succeeded")
    return rows


def failed_waiting(session: Session) -> int:
    """Deliveries that gave up and wait for someone to replay them, whenever they were written."""
    return int(session.scalar(select(func.count()).where(Delivery.status == "failed")) or 0)


def since(window: Window, days: int) -> Any:
    return window.end + timedelta(days=days)
