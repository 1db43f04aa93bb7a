"""The KPIs `bench/kpis.py` checks, computed again in pandas straight from the raw tables, independently of
salesbot.analytics, and the table that sets them beside the engine's."""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from kpis_store import END, PURCHASE_DAYS, REOPEN_DAYS, START


def _read(engine: Engine, sql: str, times: tuple[str, ...] = ()) -> pd.DataFrame:
    with engine.connect() as connection:
        frame = pd.read_sql(text(sql), connection)
    for name in times:
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            frame[name] = frame[name].dt.tz_convert(UTC)
        else:  # SQLite's text
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
    return frame


def _actor(frame: pd.DataFrame) -> pd.Series:
    return np.where(frame.customer_id.notna(), "c:" + frame.customer_id.astype(object).fillna(""),
                    "v:" + frame.visitor_id.astype(object).fillna(""))  # fmt: skip


def independent(engine: Engine) -> dict[str, tuple[float | None, float | None, float | None]]:
    """name: (value, numerator, denominator), from the tables as stored."""
    talks = _read(engine, "SELECT id, customer_id, visitor_id, status, handoff_reason, csat, created_at, closed_at "
                          "FROM conversations", ("created_at", "closed_at"))  # fmt: skip
    talks["actor"] = _actor(talks)
    here = talks[(talks.created_at >= START) & (talks.created_at < END)].set_index("id")
    hands = _read(engine, "SELECT conversation_id, to_state, changed_at FROM handoff_changes", ("changed_at",))
    queued = hands[hands.to_state == "queued"].groupby("conversation_id").changed_at.min()
    live = hands[hands.to_state == "live"].groupby("conversation_id").changed_at.min()
    here["handed"] = here.index.isin(queued.index) | here.handoff_reason.notna()
    here["reopened"] = _came_back(here, talks)
    closed = here.status == "closed"
    found = {
        "conversations_started": (len(here), len(here), None),
        "handoff_rate": _rate(here.handed.sum(), len(here)),
        "bot_resolution_rate": _rate((closed & ~here.handed & ~here.reopened).sum(), len(here)),
        "reopen_rate": _rate((closed & here.reopened).sum(), closed.sum()),
        "csat_average": _rate(here.csat.sum(), here.csat.notna().sum()),
        "csat_bot_only": _rate(here.csat[~here.handed].sum(), here.csat[~here.handed].notna().sum()),
        "csat_human": _rate(here.csat[here.handed].sum(), here.csat[here.handed].notna().sum()),
    }
    waits = (live.reindex(here.index) - queued.reindex(here.index)).dt.total_seconds().dropna()
    found["human_wait_seconds_p50"] = _quantile(waits, 50)
    found |= _message_figures(engine, here.index)
    found |= _lead_figures(engine, here.index)
    events = _read(engine, "SELECT customer_id, visitor_id, item_id, type, value, occurred_at, recommendation_id "
                           "FROM events", ("occurred_at",))  # fmt: skip
    found |= _sales_figures(engine, events, talks, here.index)
    found |= _recommendation_figures(engine, events)
    return found | _webhook_figures(engine)


def _rate(top: float, bottom: float) -> tuple[float | None, float, float]:
    return (float(top) / float(bottom) if bottom else None), float(top), float(bottom)


def _quantile(values: pd.Series, q: float) -> tuple[float | None, float, None]:
    return (float(np.percentile(values, q)) if len(values) else None), float(len(values)), None


def _came_back(here: pd.DataFrame, talks: pd.DataFrame) -> pd.Series:
    """Closed, and another conversation of the same person started within 7 days after the closing."""
    shut = here[here.closed_at.notna()].reset_index()[["id", "actor", "closed_at"]]
    pairs = shut.merge(talks[["id", "actor", "created_at"]], on="actor", suffixes=("", "_next"))
    soon = (pairs.id_next != pairs.id) & (pairs.created_at >= pairs.closed_at)
    soon &= pairs.created_at <= pairs.closed_at + pd.Timedelta(days=REOPEN_DAYS)
    return here.index.isin(pairs[soon].id.unique())


def _message_figures(engine: Engine, here: pd.Index) -> dict[str, tuple]:
    lines = _read(engine, "SELECT conversation_id, author, brain, latency_ms, details FROM messages")
    lines = lines[lines.conversation_id.isin(here) & (lines.author == "bot")]
    details = lines.details.map(lambda d: json.loads(d) if isinstance(d, str) else (d or {}))
    fell = (lines.brain == "rules") & details.map(lambda d: len(d.get("corrections") or []) > 0)
    llm = (lines.brain == "llm").sum()
    latency = lines.latency_ms.dropna()
    return {
        "bot_reply_ms_p50": _quantile(latency, 50), "bot_reply_ms_p95": _quantile(latency, 95),
        "llm_turn_share": _rate(llm, len(lines)), "llm_fallback_rate": _rate(fell.sum(), llm + fell.sum()),
    }  # fmt: skip


def _lead_figures(engine: Engine, here: pd.Index) -> dict[str, tuple]:
    leads = _read(engine, "SELECT id, conversation_id, status FROM leads")
    changes = _read(engine, "SELECT lead_id, to_status FROM lead_changes")
    ever = set(changes.lead_id[changes.to_status == "qualified"]) | set(leads.id[leads.status == "qualified"])
    qualified = leads.conversation_id[leads.id.isin(ever)]
    return {"qualified_lead_rate": _rate(here.isin(qualified).sum(), len(here))}


def _sales_figures(engine: Engine, events: pd.DataFrame, talks: pd.DataFrame, here: pd.Index) -> dict[str, tuple]:
    """Each purchase credited to the latest conversation of the same person started at most 14 days before it,
    whenever that conversation started; revenue is the item's price times the quantity (1 when not given)."""
    prices = _read(engine, "SELECT item_id, price FROM items").set_index("item_id").price.astype(float)
    bought = events[events.type == "purchase"].copy()
    bought["actor"] = _actor(bought)
    bought["revenue"] = bought.item_id.map(prices).fillna(0.0) * bought.value.fillna(1.0)
    bought["purchase"] = np.arange(len(bought))
    pairs = bought.merge(talks[["id", "actor", "created_at"]], on="actor")
    fits = pairs.created_at <= pairs.occurred_at
    fits &= pairs.occurred_at - pairs.created_at <= pd.Timedelta(days=PURCHASE_DAYS)
    latest = pairs[fits].sort_values("created_at").groupby("purchase").tail(1)
    credited = latest[latest.id.isin(here)]
    return {
        "lead_to_purchase_rate": _rate(credited.id.nunique(), len(here)),
        "attributed_revenue": (float(credited.revenue.sum()), float(credited.revenue.sum()), None),
    }


def _recommendation_figures(engine: Engine, events: pd.DataFrame) -> dict[str, tuple]:
    counts = _read(engine, "SELECT day, served FROM recommendation_counts")
    days = pd.to_datetime(counts.day).dt.tz_localize(UTC)
    served = counts.served[(days >= START) & (days < END)].sum()
    sent = events[events.recommendation_id.notna() & (events.occurred_at >= START) & (events.occurred_at < END)]
    answered = sent.type.value_counts()
    return {
        "recommendation_lists_served": (float(served), float(served), None),
        "recommendation_ctr": _rate(answered.get("click", 0), served),
        "recommendation_add_to_cart_rate": _rate(answered.get("add_to_cart", 0), served),
        "recommendation_purchase_rate": _rate(answered.get("purchase", 0), served),
    }


def _webhook_figures(engine: Engine) -> dict[str, tuple]:
    outbox = _read(engine, "SELECT id, created_at FROM outbox_events", ("created_at",))
    sent = _read(engine, "SELECT event_id, status, updated_at FROM deliveries", ("updated_at",))
    sent = sent.merge(outbox, left_on="event_id", right_on="id")
    sent = sent[(sent.created_at >= START) & (sent.created_at < END)]
    ok = sent.status == "succeeded"
    lag = (sent.updated_at - sent.created_at)[ok].dt.total_seconds()
    return {
        "webhook_success_rate": _rate(ok.sum(), sent.status.isin(["succeeded", "failed"]).sum()),
        "webhook_lag_seconds_p95": _quantile(lag, 95),
    }


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:,.6f}".rstrip("0").rstrip(".")


def checked(answer: dict[str, Any], expected: dict[str, tuple]) -> tuple[list[tuple], int]:
    """The engine's figure next to pandas': value, numerator / denominator, and whether they agree."""
    engine_says = {figure["name"]: figure for figure in answer["kpis"]}
    rows, wrong = [], 0
    for name, (value, top, bottom) in expected.items():
        figure = engine_says[name]
        got = figure["value"]
        same = (got is None and value is None) or (
            got is not None and value is not None and math.isclose(got, value, rel_tol=1e-6, abs_tol=5e-7)
        )
        wrong += not same
        rows.append((name, _shown(got), _shown(value), "✓" if same else "✗",
                     f"{_shown(figure['numerator_value'])} / {_shown(figure['denominator_value'])}",
                     f"{_shown(top)} / {_shown(bottom)}"))  # fmt: skip
    return rows, wrong


# --- one backend ------------------------------------------------------------------------------------------------
