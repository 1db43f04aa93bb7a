"""Are the KPIs answered fast enough, and are they right? 100,000 conversations and 1,000,000 events.

    python bench/kpis.py [--conversations 100000] [--events 1000000] [--postgres URL]

Synthetic but realistic rows (30 days of web and app conversations with messages, hand-offs, ratings, leads and
their history; views, clicks, add-to-carts and purchases, some from recommendation lists; webhook deliveries; a
few days of each on both sides of the window) are bulk-inserted into SQLite and, when reachable, a scratch
PostgreSQL database (dropped afterwards). Prints for each backend:
  - `kpis.report()` over the 30-day window (median of 3 after a warm-up) against COUNT(*) of the window's
    conversations plus COUNT(*) of its events, timed the same way (target <= 1 s); the CSV export for information;
  - where report() spends its time: each query (wall time) and each analytics function (cProfile, cumulative);
  - every KPI checked below as the engine answers it next to the same figure computed in pandas from the raw
    tables, independently of salesbot.analytics (match: within 1e-6 relative, or the API's 6-decimal rounding).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from tabulate import tabulate
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
from salesbot.analytics import export, kpis, outcomes, sources
from salesbot.analytics.window import Window
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.leads import qualification

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


def _median_seconds(work: Callable[[], Any], runs: int = 3) -> float:
    work()  # warm-up
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def _count_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        talks = connection.scalar(select(func.count()).select_from(Conversation)
                                  .where(Conversation.created_at >= START, Conversation.created_at < END))  # fmt: skip
        events = connection.scalar(select(func.count()).select_from(Event)
                                   .where(Event.occurred_at >= START, Event.occurred_at < END))  # fmt: skip
    return int(talks) + int(events)


def timings(shop: Any, window: Window) -> dict[str, Any]:
    answer = lambda: kpis.report(uow=shop.uow(), window=window, purchase_days=PURCHASE_DAYS, prices=PRICES)  # noqa: E731
    lines = lambda: sum(1 for _ in export.csv_lines(uow=shop.uow(), window=window, purchase_days=PURCHASE_DAYS))  # noqa: E731
    return {
        "report": _median_seconds(answer), "count": _median_seconds(lambda: _count_rows(shop.engine)),
        "csv": _median_seconds(lines), "rows counted": _count_rows(shop.engine), "csv lines": lines() - 1,
        "answer": answer(),
    }  # fmt: skip


def where_time_goes(shop: Any, window: Window) -> list[tuple]:
    """Each query's wall time (one run of report(), queries timed where they are read into frames), then the
    analytics functions' cumulative time under cProfile (another run; the profiler adds its own overhead)."""
    spent: list[tuple[str, float]] = []

    def timed(original: Callable) -> Callable:
        def reading(session: Any, query: Any) -> pd.DataFrame:
            started = time.perf_counter()
            found = original(session, query)
            label = ", ".join(list(query.selected_columns.keys())[:3])
            spent.append((f"query: {label} ({len(found):,} rows)", time.perf_counter() - started))
            return found

        return reading

    kept = sources.frame  # outcomes reads through the same function, under its own name
    outcomes.frame = sources.frame = timed(kept)
    try:
        started = time.perf_counter()
        kpis.report(uow=shop.uow(), window=window, purchase_days=PURCHASE_DAYS, prices=PRICES)
        whole = time.perf_counter() - started
    finally:
        outcomes.frame = sources.frame = kept
    rows = [("report(), this run", "wall", f"{whole:.3f}")]
    rows += [(label, "wall", f"{seconds:.3f}") for label, seconds in sorted(spent, key=lambda x: -x[1])]
    return rows + _on_the_driver(shop, window) + _profiled(shop, window)


def _on_the_driver(shop: Any, window: Window) -> list[tuple]:
    """report()'s SELECTs replayed on the driver's own cursor (execute and fetch, no SQLAlchemy types, no frames):
    the database's share of the time."""
    sent: list[tuple[str, Any]] = []
    grab = lambda *args: sent.append((args[2], args[3]))  # noqa: E731 (connection, cursor, statement, parameters...)
    event.listen(shop.engine, "before_cursor_execute", grab)
    try:
        kpis.report(uow=shop.uow(), window=window, purchase_days=PURCHASE_DAYS, prices=PRICES)
    finally:
        event.remove(shop.engine, "before_cursor_execute", grab)
    raw, timed = shop.engine.raw_connection(), []
    try:
        for statement, parameters in sent:
            cursor = raw.cursor()
            started = time.perf_counter()
            cursor.execute(statement, parameters)
            count = len(cursor.fetchall())
            timed.append((f"driver: {' '.join(statement.split())[7:62]}… ({count:,} rows)",
                          time.perf_counter() - started))  # fmt: skip
            cursor.close()
    finally:
        raw.close()
    rows = [("all SELECTs on the driver alone", "driver", f"{sum(seconds for _, seconds in timed):.3f}")]
    return rows + [(label, "driver", f"{seconds:.3f}") for label, seconds in sorted(timed, key=lambda x: -x[1])]


def _profiled(shop: Any, window: Window) -> list[tuple]:
    profile = cProfile.Profile()
    profile.runcall(kpis.report, uow=shop.uow(), window=window, purchase_days=PURCHASE_DAYS, prices=PRICES)
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    mine = [(f"{Path(file).stem}.{name}", cumulative) for (file, _, name), (_, _, _, cumulative, _) in stats.items()
            if "salesbot/analytics" in file and cumulative >= 0.02]  # fmt: skip
    return [(name, "cProfile", f"{seconds:.3f}") for name, seconds in sorted(mine, key=lambda x: -x[1])]


# --- the same figures in pandas, from the raw tables --------------------------------------------------------------


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


def measure(url: str, rows: dict[str, pd.DataFrame]) -> dict[str, Any]:
    env = os.environ | {"SALESBOT_DATABASE_URL": url}
    subprocess.run([str(ROOT / ".venv/bin/salesbot"), "db", "upgrade"], check=True, env=env, capture_output=True)
    shop = bootstrap(Settings(database_url=url, embeddings="off"))
    try:
        qualification.current(uow=shop.uow())  # the default schema, version 1, that conversations name
        started = time.perf_counter()
        load(shop.engine, rows)
        loading = time.perf_counter() - started
        window = Window.of(start=START, end=END, granularity="day", by=None)
        with tqdm(total=3, desc=f"timing and checking ({shop.engine.dialect.name})", leave=False) as bar:
            found = timings(shop, window)
            bar.update()
            found["where"] = where_time_goes(shop, window)
            bar.update()
            found["check"] = checked(found.pop("answer"), independent(shop.engine))
            bar.update()
        return found | {"backend": shop.engine.dialect.name, "loading": loading}
    finally:
        shop.close()


def _reset(admin: Engine, *statements: str) -> None:
    with admin.connect() as connection:
        for statement in statements:
            connection.execute(text(statement))


def on_postgres(server: str, rows: dict[str, pd.DataFrame]) -> dict[str, Any] | None:
    """The measurement on a scratch database of the server, dropped afterwards; None when it does not answer."""
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    drop = f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'
    try:
        _reset(admin, drop, f'CREATE DATABASE "{SCRATCH}"')
    except OperationalError as error:
        print(f"PostgreSQL skipped: {server} does not answer ({type(error.orig).__name__})\n")
        return None
    try:
        return measure(make_url(server).set(database=SCRATCH).render_as_string(hide_password=False), rows)
    finally:
        _reset(admin, drop)
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=os.environ.get("SALESBOT_TEST_POSTGRES_URL", POSTGRES),
                        help="a server URL; '' to skip PostgreSQL")  # fmt: skip
    args = parser.parse_args()
    rows = synthetic(args.conversations, args.events)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        results.append(measure(f"sqlite:///{Path(folder) / 'kpis.db'}", rows))
    if args.postgres and (found := on_postgres(args.postgres, rows)) is not None:
        results.append(found)
    print(f"\n{args.conversations:,} conversations and {args.events:,} events in the window "
          f"{START:%Y-%m-%d} to {END:%Y-%m-%d} (plus a few days either side): "
          f"{len(rows['conversations']):,} conversations, {len(rows['messages']):,} messages, "
          f"{len(rows['events']):,} events stored\n")  # fmt: skip
    speed = [(r["backend"], f"{r['report']:.3f} s", f"{r['count']:.3f} s ({r['rows counted']:,} rows)",
              f"{r['report'] / r['count']:.1f}x", "met" if r["report"] <= 1 else "NOT met",
              f"{r['csv']:.3f} s ({r['csv lines']:,} lines)", f"{r['loading']:.0f} s") for r in results]  # fmt: skip
    headers = ("backend", "report() median of 3", "COUNT(*) baseline", "ratio", "target <= 1 s", "CSV export", "load")
    print(tabulate(speed, headers=headers), "\n")
    for r in results:
        print(tabulate(r["where"], headers=(f"where report() spends its time ({r['backend']})", "timer", "s")), "\n")
    for r in results:
        table, wrong = r["check"]
        headers = (f"KPI ({r['backend']})", "engine", "pandas", "match", "engine num / den", "pandas num / den")
        print(tabulate(table, headers=headers, disable_numparse=True))
        print(f"{len(table) - wrong} of {len(table)} figures agree\n")


if __name__ == "__main__":
    main()
