"""The synthetic store `bench/kpis.py` measures: 30 days of conversations with their messages, hand-offs,
ratings, leads and history, events (some from recommendation lists), webhook deliveries, and their bulk loading."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import (
    Conversation,
    Customer,
    Delivery,
    Event,
    HandoffChange,
    Item,
    Lead,
    LeadChange,
    Message,
    OutboxEvent,
    RecommendationCount,
    WebhookEndpoint,
)
from salesbot.analytics import kpis

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
DAYS = 30
END = START + timedelta(days=DAYS)
DAY = 86_400.0
PURCHASE_DAYS = 14
REOPEN_DAYS = 7
PRICES = kpis.Prices(prompt=0.15, completion=0.6)
CHUNK = 20_000
SCRATCH = "salesbot_bench_kpis"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LISTS = [("mv_20251201", "personal"), ("mv_20251201", "similar"), ("mv_20251215", "personal"),
         ("mv_20251215", "similar"), ("mv_20251215", "cold_start"), ("popular", "popular")]  # fmt: skip
LEAD_PATHS = [  # a lead's statuses in order, and how often a lead goes that way
    (["new"], 0.15), (["new", "qualifying"], 0.25), (["new", "qualifying", "qualified"], 0.20),
    (["new", "qualifying", "disqualified"], 0.10), (["new", "qualifying", "nurture"], 0.08),
    (["new", "qualifying", "qualified", "handed_off"], 0.08), (["new", "qualifying", "handed_off"], 0.05),
    (["new", "qualifying", "qualified", "handed_off", "won"], 0.05),
    (["new", "qualifying", "qualified", "nurture"], 0.04),
]  # fmt: skip
FALLBACKS = ["llm unavailable: timed out after 8 s", "unsafe reply withheld", "over the conversation's token budget"]


# --- synthetic rows ---------------------------------------------------------------------------------------------


def _moments(offsets: np.ndarray) -> pd.Series:
    """Seconds after START as UTC timestamps, to the millisecond."""
    return pd.Series(pd.Timestamp(START) + pd.to_timedelta(np.round(offsets * 1000).astype(np.int64), unit="ms"))


def _span(seconds: np.ndarray) -> pd.Series:
    """Durations in seconds, to the millisecond."""
    return pd.Series(pd.to_timedelta(np.round(np.asarray(seconds) * 1000).astype(np.int64), unit="ms"))


def _ids(prefix: str, numbers: Iterable[int]) -> pd.Series:
    return pd.Series([f"{prefix}{n}" for n in numbers], dtype=object)


def _people(n: int) -> dict[str, Any]:
    """Conversations' visitors: a pool smaller than the conversations (people come back); the first 30% are
    customers who are usually signed in."""
    actors = int(n * 0.6)
    return {"actors": actors, "customers": max(1, int(actors * 0.3))}


def conversation_rows(rng: np.random.Generator, n: int, people: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """`n` conversations in the window and 4% more in the 5 days on either side, with messages and hand-offs."""
    extra = n // 25
    offsets = np.concatenate([rng.uniform(0, DAYS * DAY, n), rng.uniform(-5 * DAY, 0, extra // 2),
                              rng.uniform(DAYS * DAY, (DAYS + 5) * DAY, extra - extra // 2)])  # fmt: skip
    total = len(offsets)
    actor = rng.integers(0, people["actors"], total)
    signed_in = (actor < people["customers"]) & (rng.random(total) > 0.2)
    created = _moments(offsets)
    lines = rng.integers(3, 8, total)
    gaps = rng.uniform(5, 60, lines.sum())
    firsts = np.cumsum(lines) - lines
    within = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[firsts] - gaps[firsts], lines)
    talked = _span(within[firsts + lines - 1])
    handed = rng.random(total) < 0.15
    queued = created + talked + pd.Timedelta(seconds=5)
    accepted = (queued + _span(rng.lognormal(np.log(90), 1.0, total))).where(handed & (rng.random(total) < 0.85))
    closed = rng.random(total) < np.where(handed, 0.7, 0.65)
    closing = (created + talked + _span(rng.uniform(60, 1800, total))).mask(handed, queued + pd.Timedelta(minutes=30))
    closed_at = closing.mask(accepted.notna(), accepted + _span(rng.uniform(900, 3600, total))).where(closed)
    rated = closed & (rng.random(total) < 0.45)
    frame = pd.DataFrame({
        "id": _ids("cv_", range(total)),
        "customer_id": pd.Series([f"c-{a}" for a in actor], dtype=object).where(signed_in, None),
        "visitor_id": pd.Series([f"v-{a}" for a in actor], dtype=object),
        "channel": rng.choice(["web", "app"], total, p=[0.75, 0.25]),
        "page": [{} for _ in range(total)],
        "schema_version": 1,
        "status": np.where(closed, "closed", np.where(handed, "awaiting_human", "open")),
        "handoff_reason": pd.Series(rng.choice(["visitor asked for a person", "stuck", "hot lead"], total),
                                    dtype=object).where(handed, None),
        "handoff_state": np.where(handed, np.where(closed, "resolved", np.where(accepted.notna(), "live", "queued")),
                                  "bot"),
        "last_seq": 0,
        "csat": pd.Series(rng.choice([1, 2, 3, 4, 5], total, p=[0.08, 0.07, 0.15, 0.3, 0.4])).where(rated),
        "created_at": created,
        "updated_at": closed_at.fillna(created + talked),
        "closed_at": closed_at,
    })  # fmt: skip
    messages = _messages(rng, frame, lines, within, accepted)
    frame["last_seq"] = messages.groupby("conversation_id").seq.max().reindex(frame.id).to_numpy()
    handoffs = _handoffs(rng, frame, handed & (rng.random(total) < 0.98), queued, accepted)
    return {"conversations": frame, "messages": messages, "handoff_changes": handoffs,
            **_leads(rng, frame), "actor": pd.Series(actor)}  # fmt: skip


def _messages(
    rng: np.random.Generator, talks: pd.DataFrame, lines: np.ndarray, within: np.ndarray, accepted: pd.Series
) -> pd.DataFrame:
    """Visitor and bot lines in turn (the bot's with their brain, server time and tokens; some rules lines are
    fallbacks that list their corrections), then a system line and two rep lines after a rep accepted."""
    owner = np.repeat(np.arange(len(talks)), lines)
    position = np.arange(len(owner)) - np.repeat(np.cumsum(lines) - lines, lines)
    bot = position % 2 == 1
    llm = bot & (rng.random(len(owner)) < 0.6)
    fallback = bot & ~llm & (rng.random(len(owner)) < 0.12)
    details = [{"corrections": [FALLBACKS[n % 3]]} if fell else {} for n, fell in enumerate(fallback)]
    latency = np.where(llm, rng.lognormal(np.log(900), 0.5, len(owner)), rng.lognormal(np.log(15), 0.6, len(owner)))
    timed = bot & (rng.random(len(owner)) > 0.04)
    lines_frame = pd.DataFrame({
        "conversation_id": talks.id.to_numpy()[owner],
        "author": np.where(bot, "bot", "visitor"),
        "rep_id": None,
        "text": np.where(bot, "Which budget do you have in mind?", "We need laptops for the team"),
        "details": details,
        "brain": pd.Series(np.where(llm, "llm", "rules"), dtype=object).where(bot, None),
        "latency_ms": pd.Series(np.round(latency, 3)).where(timed),
        "prompt_tokens": pd.Series(rng.integers(300, 1500, len(owner))).where(llm),
        "completion_tokens": pd.Series(rng.integers(20, 200, len(owner))).where(llm),
        "created_at": talks.created_at.iloc[owner].reset_index(drop=True) + _span(within),
    })  # fmt: skip
    joined = accepted.notna().to_numpy()
    at = accepted[joined].reset_index(drop=True)
    people = len(at)
    rep_lines = pd.DataFrame({
        "conversation_id": np.tile(talks.id.to_numpy()[joined], 3),
        "author": ["system"] * people + ["rep"] * 2 * people,
        "rep_id": [None] * people + [f"rep_{n % 5}" for n in range(2 * people)],
        "text": ["Anna joined"] * people + ["Hi, Anna here. Let me look."] * 2 * people,
        "details": [{} for _ in range(3 * people)],
        "brain": None, "latency_ms": np.nan, "prompt_tokens": np.nan, "completion_tokens": np.nan,
        "created_at": pd.concat([at, at + _span(rng.uniform(10, 120, people)),
                                 at + _span(rng.uniform(150, 600, people))], ignore_index=True),
    })  # fmt: skip
    rows = pd.concat([lines_frame, rep_lines], ignore_index=True).sort_values(["conversation_id", "created_at"])
    rows["seq"] = rows.groupby("conversation_id").cumcount() + 1
    return rows.reset_index(drop=True)


def _handoffs(
    rng: np.random.Generator, talks: pd.DataFrame, recorded: np.ndarray, queued: pd.Series, accepted: pd.Series
) -> pd.DataFrame:
    """bot -> queued, then queued -> assigned -> live when a rep accepted, and live -> resolved (or queued -> bot
    when nobody came) at closing."""
    parts = []
    each = pd.DataFrame({"conversation_id": talks.id, "reason": talks.handoff_reason, "queued": queued,
                         "accepted": accepted, "closed": talks.closed_at})[recorded]  # fmt: skip
    took = each[each.accepted.notna()]
    rep = pd.Series([f"rep_{n % 5}" for n in range(len(took))], index=took.index, dtype=object)
    parts.append(each.assign(from_state="bot", to_state="queued", rep_id=None, moment=each.queued))
    parts.append(took.assign(from_state="queued", to_state="assigned", rep_id=rep,
                             moment=took.queued + (took.accepted - took.queued) * 0.7, reason="offered"))  # fmt: skip
    parts.append(took.assign(from_state="assigned", to_state="live", rep_id=rep, moment=took.accepted,
                             reason="accepted"))  # fmt: skip
    done = each[each.closed.notna()]
    live = done.accepted.notna()
    parts.append(done.assign(from_state=np.where(live, "live", "queued"), to_state=np.where(live, "resolved", "bot"),
                             rep_id=None, moment=done.closed, reason="closed"))  # fmt: skip
    rows = pd.concat(parts, ignore_index=True)
    return pd.DataFrame({"conversation_id": rows.conversation_id, "from_state": rows.from_state,
                         "to_state": rows.to_state, "rep_id": rows.rep_id, "reason": rows.reason.fillna(""),
                         "changed_at": pd.to_datetime(rows.moment, utc=True)})  # fmt: skip


def _leads(rng: np.random.Generator, talks: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """A lead for 60% of conversations, its status the last of a path through the statuses, each step recorded."""
    has = talks[rng.random(len(talks)) < 0.6].reset_index(drop=True)
    path = rng.choice(len(LEAD_PATHS), len(has), p=[share for _, share in LEAD_PATHS])
    steps = [LEAD_PATHS[k][0] for k in path]
    leads = pd.DataFrame({
        "id": _ids("ld_", range(len(has))), "conversation_id": has.id, "customer_id": has.customer_id,
        "status": [each[-1] for each in steps], "score": np.round(rng.uniform(0, 100, len(has)), 1),
        "created_at": has.created_at, "updated_at": has.created_at + pd.Timedelta(minutes=10),
    })  # fmt: skip
    counts = np.array([len(each) for each in steps])
    owner = np.repeat(np.arange(len(has)), counts)
    flat = [status for each in steps for status in each]
    before = [None if n == 0 else each[n - 1] for each in steps for n in range(len(each))]
    changes = pd.DataFrame({
        "lead_id": leads.id.to_numpy()[owner], "from_status": pd.Series(before, dtype=object), "to_status": flat,
        "score": leads.score.to_numpy()[owner], "reason": "turn",
        "changed_at": has.created_at.iloc[owner].reset_index(drop=True)
        + _span(60.0 * (np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts))),
    })  # fmt: skip
    return {"leads": leads, "lead_changes": changes}


def event_rows(
    rng: np.random.Generator, m: int, talks: pd.DataFrame, actor: pd.Series, people: dict[str, Any]
) -> pd.DataFrame:
    """`m` events: 70% views, 15% clicks, 10% add-to-carts, 5% purchases; most purchases follow a conversation of
    the same person by a few days, the rest come from anyone; 10% carry a recommendation id."""
    kinds = rng.choice(["view", "click", "add_to_cart", "purchase"], m, p=[0.70, 0.15, 0.10, 0.05])
    who = rng.integers(0, int(people["actors"] * 1.3), m)
    customer = pd.Series([f"c-{a}" for a in who], dtype=object).where(who < people["customers"], None)
    visitor = pd.Series([f"v-{a}" for a in who], dtype=object)
    at = rng.uniform(-2 * DAY, (DAYS + 2) * DAY, m)
    after = (kinds == "purchase") & (rng.random(m) < 0.6)
    talk = rng.integers(0, len(talks), after.sum())
    customer[after] = talks.customer_id.to_numpy()[talk]
    visitor[after] = talks.visitor_id.to_numpy()[talk]
    started = (talks.created_at.iloc[talk] - pd.Timestamp(START)).dt.total_seconds().to_numpy()
    at[after] = started + rng.exponential(4 * DAY, after.sum())
    visitor = visitor.where(customer.isna() | (rng.random(m) < 0.5), None)
    items = pd.Series([f"sku-{n}" for n in rng.integers(0, 1000, m)], dtype=object)
    items[rng.random(m) < 0.003] = "sku-gone"  # no longer in the catalog: no price
    value = np.where(kinds == "purchase", rng.integers(1, 4, m).astype(float), np.nan)
    value[(kinds == "purchase") & (rng.random(m) < 0.1)] = np.nan
    return pd.DataFrame({
        "event_id": _ids("ev-", range(m)), "customer_id": customer, "visitor_id": visitor, "item_id": items,
        "type": kinds, "value": value, "occurred_at": _moments(at), "recommendation_id": _recommendation_ids(rng, m),
    })  # fmt: skip


def _recommendation_ids(rng: np.random.Generator, m: int) -> pd.Series:
    """`rec.<version>.<strategy>.<hex>` on 10% of events; a few in the older form without a strategy."""
    chosen = rng.random(m) < 0.10
    which = rng.integers(0, len(LISTS), m)
    old = rng.random(m) < 0.05
    hexes = rng.integers(0, 2**48, m)
    ids = [
        (f"rec.{LISTS[k][0]}.{h:012x}" if was_old else f"rec.{LISTS[k][0]}.{LISTS[k][1]}.{h:012x}") if pick else None
        for pick, k, was_old, h in zip(chosen, which, old, hexes, strict=True)
    ]
    return pd.Series(ids, dtype=object)


def other_rows(rng: np.random.Generator, n: int, m: int, people: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The catalog, customers, lists served per day, version and strategy, and webhook deliveries."""
    prices = [Decimal(f"{p:.2f}") for p in rng.uniform(5, 500, 1000)]
    items = pd.DataFrame({"item_id": _ids("sku-", range(1000)), "title": [f"Thing {k}" for k in range(1000)],
                          "category": rng.choice(["laptops", "tablets", "monitors"], 1000), "price": prices,
                          "currency": "EUR"})  # fmt: skip
    customers = pd.DataFrame({"customer_id": _ids("c-", range(people["customers"]))})
    days = pd.date_range(START - timedelta(days=3), END + timedelta(days=3), freq="D").date
    per = max(20, int(m * 0.15 * 0.10 / (DAYS + 4) / len(LISTS) / 0.05))
    served = pd.DataFrame([{"day": day, "model_version": version, "strategy": strategy, "served": rng.poisson(per)}
                           for day in days for version, strategy in LISTS])  # fmt: skip
    return {"items": items, "customers": customers, "recommendation_counts": served, **_webhook_rows(rng, n)}


def _webhook_rows(rng: np.random.Generator, n: int) -> dict[str, pd.DataFrame]:
    events = max(100, n // 5)
    endpoints = pd.DataFrame({"id": ["we_crm", "we_hubspot"], "url": ["https://crm.example/h", "https://hs.example/h"],
                              "secret": ["whsec_a", "whsec_b"]})  # fmt: skip
    created = _moments(rng.uniform(-2 * DAY, (DAYS + 2) * DAY, events))
    outbox = pd.DataFrame({"id": _ids("evt_", range(events)), "type": "lead.updated",
                           "data": [{} for _ in range(events)], "created_at": created})  # fmt: skip
    status = rng.choice(["succeeded", "failed", "pending", "delivering"], 2 * events, p=[0.88, 0.04, 0.05, 0.03])
    lag = _span(rng.lognormal(np.log(2), 1.0, 2 * events)).where(status != "failed", pd.Timedelta(hours=6))
    updated = pd.concat([created, created], ignore_index=True) + lag
    deliveries = pd.DataFrame({
        "id": _ids("dl_", range(2 * events)), "event_id": np.tile(outbox.id.to_numpy(), 2),
        "endpoint_id": np.repeat(endpoints.id.to_numpy(), events), "event_type": "lead.updated", "status": status,
        "attempts": np.where(status == "failed", 8, 1), "next_attempt_at": updated,
        "created_at": pd.concat([created, created], ignore_index=True), "updated_at": updated,
    })  # fmt: skip
    return {"webhook_endpoints": endpoints, "outbox_events": outbox, "deliveries": deliveries}


def synthetic(n: int, m: int, seed: int = 15) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    people = _people(n)
    with tqdm(total=3, desc="generating rows", leave=False) as bar:
        talks = conversation_rows(rng, n, people)
        bar.update()
        events = event_rows(rng, m, talks["conversations"], talks.pop("actor"), people)
        bar.update()
        rest = other_rows(rng, n, m, people)
        bar.update()
    return {**rest, **talks, "events": events}


# --- loading ----------------------------------------------------------------------------------------------------

TABLES = [
    ("items", Item), ("customers", Customer), ("conversations", Conversation), ("messages", Message),
    ("handoff_changes", HandoffChange), ("leads", Lead), ("lead_changes", LeadChange), ("events", Event),
    ("recommendation_counts", RecommendationCount), ("webhook_endpoints", WebhookEndpoint),
    ("outbox_events", OutboxEvent), ("deliveries", Delivery),
]  # fmt: skip


def _python(column: pd.Series) -> list[Any]:
    """Plain Python values the drivers take: aware datetimes, ints, floats, None for missing."""
    if pd.api.types.is_datetime64_any_dtype(column):
        naive = column.dt.tz_convert(None).to_numpy().astype("datetime64[us]").tolist()
        return [None if value is None else value.replace(tzinfo=UTC) for value in naive]
    return [None if isinstance(value, float) and math.isnan(value) else value for value in column.tolist()]


def _as_int(column: pd.Series) -> list[Any]:
    return [None if value is None else int(value) for value in _python(column)]


INTEGERS = {"csat", "prompt_tokens", "completion_tokens", "schema_version", "last_seq", "seq", "served", "attempts"}


def load(engine: Engine, rows: dict[str, pd.DataFrame]) -> None:
    total = sum(len(rows[name]) for name, _ in TABLES)
    with tqdm(total=total, desc=f"inserting ({engine.dialect.name})", unit="row", unit_scale=True) as bar:
        for name, model in TABLES:
            frame = rows[name]
            columns = {c: (_as_int if c in INTEGERS else _python)(frame[c]) for c in frame.columns}
            records = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
            with engine.begin() as connection:
                for first in range(0, len(records), CHUNK):
                    connection.execute(insert(model), records[first : first + CHUNK])
                    bar.update(len(records[first : first + CHUNK]))
    # Leave the database as a quiet one would be: autovacuum has analysed PostgreSQL, SQLite's WAL is checkpointed.
    settle = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "PRAGMA wal_checkpoint(TRUNCATE)"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(settle)


# --- the engine's answers and the time they take ----------------------------------------------------------------
