"""The KPIs: each one's definition (numerator and denominator in words) and its figure over a window, per period and
per slice, from the conversations' outcomes and the other rows behind them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from salesbot.analytics import sources
from salesbot.analytics.figures import Kpi, percentile, ratio
from salesbot.analytics.outcomes import outcomes
from salesbot.analytics.window import Window
from salesbot.database import UnitOfWork

STARTED = "conversations started in the window"
K = Kpi
KPIS = (
    K("conversations_started", "conversations", "Conversations started", "count",
      "Conversations started in the window, by channel.", STARTED),
    K("bot_resolution_rate", "conversations", "Resolved by the bot alone", "rate",
      "Closed with no hand-off to a person and not reopened (the same visitor back within 7 days of closing).",
      "closed, never handed off, not reopened", STARTED, "bot_resolved"),
    K("handoff_rate", "conversations", "Handed to a person", "rate",
      "Conversations handed to a person (asked for, stuck or hot lead), with the reasons.",
      "handed off", STARTED, "handed_off"),
    K("reopen_rate", "conversations", "Reopened", "rate",
      "Closed conversations whose visitor started another within 7 days of the closing.",
      "closed and reopened", "closed conversations started in the window", "reopened"),
    K("bot_reply_ms_p50", "speed", "Bot reply time, median", "milliseconds",
      "The server time of the bot's replies (rules or LLM), half of them faster.", "bot replies"),
    K("bot_reply_ms_p95", "speed", "Bot reply time, 95th percentile", "milliseconds",
      "The server time of the bot's replies, 95% of them faster.", "bot replies"),
    K("human_wait_seconds_p50", "speed", "Wait for a person, median", "seconds",
      "From queued for a person to a rep accepting; the bot's replies are not counted.", "accepted hand-offs"),
    K("human_wait_seconds_p95", "speed", "Wait for a person, 95th percentile", "seconds",
      "From queued for a person to a rep accepting, 95% of visitors waited less.", "accepted hand-offs"),
    K("first_human_response_seconds_p50", "speed", "First human response, median", "seconds",
      "From queued for a person to the rep's first message (never the bot's).", "hand-offs a rep answered"),
    K("csat_average", "satisfaction", "CSAT", "score",
      "The average rating (1-5) visitors gave, with the distribution.", "sum of ratings", "rated conversations"),
    K("csat_bot_only", "satisfaction", "CSAT, bot only", "score",
      "The average rating of conversations no person took part in.", "sum of ratings",
      "rated conversations never handed off"),
    K("csat_human", "satisfaction", "CSAT, with a person", "score",
      "The average rating of conversations handed to a person.", "sum of ratings",
      "rated conversations handed off"),
    K("qualified_lead_rate", "sales", "Qualified leads", "rate",
      "Conversations whose lead was qualified at some point; leads by status alongside.",
      "leads ever qualified", STARTED, "qualified"),
    K("lead_to_purchase_rate", "sales", "Lead to purchase", "rate",
      "Conversations (each one's lead) credited with a purchase of the same customer or visitor within "
      "`purchase_days` days (see attributed_revenue for which conversation a purchase goes to).",
      "conversations followed by a purchase", STARTED, "purchased"),
    K("attributed_revenue", "sales", "Revenue after a conversation", "money",
      "Price times quantity of the purchases credited to a conversation (each purchase to the latest "
      "conversation of the same customer or visitor at most `purchase_days` days before it).",
      "revenue of credited purchases", None, "purchased"),
    K("recommendation_lists_served", "recommendations", "Recommendation lists served", "count",
      "Lists the recommender answered, per model version and strategy.", "lists served"),
    K("recommendation_ctr", "recommendations", "Recommendation click-through", "rate",
      "Clicks sent back with a recommendation id, per list served.", "clicks", "lists served"),
    K("recommendation_add_to_cart_rate", "recommendations", "Recommendation add-to-cart", "rate",
      "Add-to-cart events sent back with a recommendation id, per list served.", "add-to-carts", "lists served"),
    K("recommendation_purchase_rate", "recommendations", "Recommendation purchases", "rate",
      "Purchases sent back with a recommendation id, per list served.", "purchases", "lists served"),
    K("offer_exposures", "offers", "Offers shown", "count",
      "Offers shown in conversations (a control arm's turn shows none), per experiment arm.", "offers shown"),
    K("offer_redemptions", "offers", "Offers redeemed", "count", "Offers used on orders.", "redemptions"),
    K("discount_cost", "offers", "Discount given", "money", "The discount of the redemptions.", "sum of discounts"),
    K("revenue_per_unit", "offers", "Revenue per unit", "money",
      "Revenue of experiment units (visitors or customers) first exposed in the window, per unit, per arm.",
      "revenue of the units", "units first exposed"),
    K("llm_turn_share", "llm", "Turns written by the LLM", "rate",
      "Bot turns the LLM wrote; the rest the rules brain wrote (turns by brain alongside).",
      "LLM turns", "bot turns"),
    K("llm_fallback_rate", "llm", "Fallbacks to the rules brain", "rate",
      "Turns where the LLM failed, was unsafe or over its token budget and the rules brain answered; with "
      "the reasons.", "fallback turns", "LLM turns and fallback turns"),
    K("llm_tokens_per_conversation", "llm", "LLM tokens per conversation", "tokens",
      "Prompt and completion tokens, per conversation that used the LLM.", "tokens",
      "conversations with an LLM turn"),
    K("llm_cost_per_conversation", "llm", "Estimated LLM cost per conversation", "money",
      "Tokens times the configured prices, per conversation that used the LLM.", "estimated cost",
      "conversations with an LLM turn"),
    K("bot_lines_rated", "feedback", "Bot lines rated", "count",
      "Bot lines that reps, marketers or admins rated up or down; lines rated up, down, or split evenly alongside.",
      "bot lines rated", None, "lines_rated"),
    K("bot_lines_rated_up_share", "feedback", "Bot lines rated up", "rate",
      "Rated bot lines with more up than down ratings (most lines have one rating).",
      "bot lines rated up", "bot lines rated", "lines_rated_up"),
    K("bot_lines_rated_down", "feedback", "Bot lines rated down", "count",
      "Rated bot lines with more down than up ratings; the down ratings' reasons alongside.",
      "bot lines rated down", None, "lines_rated_down"),
    K("bot_line_corrections", "feedback", "Corrections", "count",
      "Replies the bot should have given, written by a rep who took the conversation over or by an admin.",
      "corrections", None, "corrections"),
    K("webhook_success_rate", "webhooks", "Webhooks delivered", "rate",
      "Deliveries that succeeded, of those that ended (succeeded or failed after every retry).",
      "succeeded", "succeeded or failed"),
    K("webhook_lag_seconds_p95", "webhooks", "Webhook lag, 95th percentile", "seconds",
      "From the event's commit to its successful delivery.", "delivered webhooks"),
)  # fmt: skip
BY_NAME = {kpi.name: kpi for kpi in KPIS}


@dataclass(frozen=True)
class Prices:
    """What the LLM costs per million prompt and completion tokens (in the store's money)."""

    prompt: float = 0.0
    completion: float = 0.0


def report(*, uow: UnitOfWork, window: Window, purchase_days: int, prices: Prices) -> dict[str, Any]:
    """Every KPI over the window, with its definition, series and slices; breakdowns beside the figures."""
    rows = outcomes(uow=uow, window=window, purchase_days=purchase_days)
    with uow:
        session = uow.session
        replies = sources.reply_times(session, window)
        served = sources.recommendations(session, window)
        shown, redeemed, units = (f(session, window) for f in (sources.exposures, sources.redemptions, sources.units))
        sent, failed = sources.deliveries(session, window), sources.failed_waiting(session)
        reasons = sources.fallback_reasons(session, window)
        downs = sources.down_reasons(session, window)
    by = window.by
    figures = [
        *_conversations(rows, window, by),
        *_speed(rows, replies, window, by),
        *_satisfaction(rows, window, by),
        *_sales(rows, window, by),
        *_recommendations(served, window, by),
        *_offers(shown, redeemed, units, window, by),
        *_llm(rows, window, by, prices, reasons),
        *_feedback(rows, window, by, downs),
        *_webhooks(sent, window, by, failed),
    ]
    return {
        "from": window.start, "to": window.end, "granularity": window.granularity, "by": by,
        "purchase_days": purchase_days, "periods": window.all_periods, "kpis": figures,
    }  # fmt: skip


def _conversations(rows: pd.DataFrame, window: Window, by: str | None) -> list[dict]:
    one = pd.Series(1, index=rows.index)
    closed = rows.status == "closed"
    handoff = ratio(BY_NAME["handoff_rate"], rows, rows.handed_off, one, window, by)
    handoff["breakdown"] = _counts(rows.handoff_reason[rows.handed_off].fillna("(not recorded)"))
    started = ratio(BY_NAME["conversations_started"], rows, one, None, window, by)
    started["breakdown"] = _counts(rows.channel)
    return [
        started,
        ratio(BY_NAME["bot_resolution_rate"], rows, rows.bot_resolved, one, window, by),
        handoff,
        ratio(BY_NAME["reopen_rate"], rows, rows.reopened & closed, closed, window, by),
    ]


def _speed(rows: pd.DataFrame, replies: pd.DataFrame, window: Window, by: str | None) -> list[dict]:
    latency = replies.latency_ms if len(replies) else pd.Series(dtype=float)
    return [
        percentile(BY_NAME["bot_reply_ms_p50"], replies, latency, 0.5, window, by),
        percentile(BY_NAME["bot_reply_ms_p95"], replies, latency, 0.95, window, by),
        percentile(BY_NAME["human_wait_seconds_p50"], rows, rows.human_wait_seconds, 0.5, window, by),
        percentile(BY_NAME["human_wait_seconds_p95"], rows, rows.human_wait_seconds, 0.95, window, by),
        percentile(
            BY_NAME["first_human_response_seconds_p50"], rows, rows.first_human_response_seconds, 0.5, window, by
        ),
    ]


def _satisfaction(rows: pd.DataFrame, window: Window, by: str | None) -> list[dict]:
    rated = rows.csat.notna()
    score = rows.csat.fillna(0).astype(float)
    average = ratio(BY_NAME["csat_average"], rows, score, rated, window, by)
    average["breakdown"] = {str(n): int((rows.csat == n).sum()) for n in range(1, 6)}
    return [
        average,
        ratio(BY_NAME["csat_bot_only"], rows, score.where(~rows.handed_off, 0), rated & ~rows.handed_off, window, by),
        ratio(BY_NAME["csat_human"], rows, score.where(rows.handed_off, 0), rated & rows.handed_off, window, by),
    ]


def _sales(rows: pd.DataFrame, window: Window, by: str | None) -> list[dict]:
    one = pd.Series(1, index=rows.index)
    qualified = ratio(BY_NAME["qualified_lead_rate"], rows, rows.qualified, one, window, by)
    qualified["breakdown"] = _counts(rows.lead_status.fillna("(no lead)"))
    return [
        qualified,
        ratio(BY_NAME["lead_to_purchase_rate"], rows, rows.purchased, one, window, by),
        ratio(BY_NAME["attributed_revenue"], rows, rows.revenue, None, window, by),
    ]


def _recommendations(served: pd.DataFrame, window: Window, by: str | None) -> list[dict]:
    lists = served.served if len(served) else pd.Series(dtype=float)
    figures = [ratio(BY_NAME["recommendation_lists_served"], served, lists, None, window, by)]
    for name, kind in (("recommendation_ctr", "click"), ("recommendation_add_to_cart_rate", "add_to_cart"),
                       ("recommendation_purchase_rate", "purchase")):  # fmt: skip
        answered = served[kind] if len(served) else pd.Series(dtype=float)
        figures.append(ratio(BY_NAME[name], served, answered, lists, window, by))
    return figures


def _offers(
    shown: pd.DataFrame, redeemed: pd.DataFrame, units: pd.DataFrame, window: Window, by: str | None
) -> list[dict]:
    offered = shown.offer_id.notna() if len(shown) else pd.Series(dtype=bool)
    one = pd.Series(1, index=units.index)
    return [
        ratio(BY_NAME["offer_exposures"], shown, offered, None, window, by),
        ratio(BY_NAME["offer_redemptions"], redeemed, pd.Series(1, index=redeemed.index), None, window, by),
        ratio(BY_NAME["discount_cost"], redeemed, _column(redeemed, "discount"), None, window, by),
        ratio(BY_NAME["revenue_per_unit"], units, _column(units, "revenue"), one, window, by),
    ]


def _llm(rows: pd.DataFrame, window: Window, by: str | None, prices: Prices, reasons: pd.Series) -> list[dict]:
    used = rows.llm_turns > 0
    tokens = (rows.prompt_tokens + rows.completion_tokens).astype(float)
    cost = (rows.prompt_tokens * prices.prompt + rows.completion_tokens * prices.completion) / 1_000_000
    share = ratio(BY_NAME["llm_turn_share"], rows, rows.llm_turns, rows.bot_turns, window, by)
    share["breakdown"] = {"llm": int(rows.llm_turns.sum()), "rules": int((rows.bot_turns - rows.llm_turns).sum())}
    fallback = ratio(BY_NAME["llm_fallback_rate"], rows, rows.fallbacks, rows.llm_turns + rows.fallbacks, window, by)
    fallback["breakdown"] = {str(reason): int(count) for reason, count in reasons.items()}
    return [
        share,
        fallback,
        ratio(BY_NAME["llm_tokens_per_conversation"], rows, tokens.where(used, 0), used, window, by),
        ratio(BY_NAME["llm_cost_per_conversation"], rows, cost.where(used, 0), used, window, by),
    ]


def _feedback(rows: pd.DataFrame, window: Window, by: str | None, downs: pd.Series) -> list[dict]:
    rated = ratio(BY_NAME["bot_lines_rated"], rows, rows.lines_rated, None, window, by)
    split = rows.lines_rated - rows.lines_rated_up - rows.lines_rated_down
    rated["breakdown"] = {"up": int(rows.lines_rated_up.sum()), "down": int(rows.lines_rated_down.sum()),
                          "split": int(split.sum())}  # fmt: skip
    down = ratio(BY_NAME["bot_lines_rated_down"], rows, rows.lines_rated_down, None, window, by)
    down["breakdown"] = {str(reason): int(count) for reason, count in downs.items()}
    return [
        rated,
        ratio(BY_NAME["bot_lines_rated_up_share"], rows, rows.lines_rated_up, rows.lines_rated, window, by),
        down,
        ratio(BY_NAME["bot_line_corrections"], rows, rows.corrections, None, window, by),
    ]


def _webhooks(sent: pd.DataFrame, window: Window, by: str | None, failed: int) -> list[dict]:
    status = sent.status if len(sent) else pd.Series(dtype=str)
    success = ratio(
        BY_NAME["webhook_success_rate"], sent, status == "succeeded", status.isin(["succeeded", "failed"]), window, by
    )
    success["breakdown"] = {"failed deliveries waiting for a replay": failed}
    lag = sent.lag if len(sent) else pd.Series(dtype=float)  # delivered ones only: the others have no lag
    return [success, percentile(BY_NAME["webhook_lag_seconds_p95"], sent, lag, 0.95, window, by)]


def _column(rows: pd.DataFrame, name: str) -> pd.Series:
    return rows[name].fillna(0).astype(float) if len(rows) else pd.Series(dtype=float)


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(key): int(count) for key, count in values.value_counts().items()}
