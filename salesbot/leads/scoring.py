"""Lead scoring: deterministic and explained. Each field earns its weight when known and within its rule;
what the customer did in the store (views, cart, purchases) adds up to BEHAVIOUR_POINTS more."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Event
from salesbot.leads.qualification import Field, Schema

RECENT = timedelta(days=30)
BEHAVIOUR = {"recent_views": (4.0, 10), "cart_value": (3.0, 500.0), "purchases": (3.0, 3)}  # (points, for this much)
BEHAVIOUR_POINTS = sum(points for points, _full in BEHAVIOUR.values())


@dataclass(frozen=True)
class Behaviour:
    recent_views: int = 0
    cart_value: float = 0.0
    purchases: int = 0


@dataclass(frozen=True)
class Verdict:
    score: float
    breakdown: dict[str, Any]
    status: str
    reason: str


def behaviour(session: Session, customer_id: str | None, *, now: datetime) -> Behaviour:
    """What a known customer did: views and clicks and cart value in the last 30 days, purchases ever."""
    if customer_id is None:
        return Behaviour()
    query = (
        select(Event.type, func.count(), func.coalesce(func.sum(Event.value), 0.0))
        .where(Event.customer_id == customer_id, Event.occurred_at >= now - RECENT)
        .group_by(Event.type)
    )
    recent = {kind: (count, total) for kind, count, total in session.execute(query)}
    purchases = session.scalar(select(func.count()).where(Event.customer_id == customer_id, Event.type == "purchase"))
    return Behaviour(
        recent_views=recent.get("view", (0, 0))[0] + recent.get("click", (0, 0))[0],
        cart_value=float(recent.get("add_to_cart", (0, 0.0))[1] or 0.0),
        purchases=int(purchases or 0),
    )


def judge(schema: Schema, fields: dict[str, Any], done: Behaviour, declined: tuple[str, ...] = ()) -> Verdict:
    """The score with its breakdown, and the status it puts the lead in (with why). A declined field earns
    nothing but counts as answered: a visitor who will not say is not asked forever."""
    parts = {each.name: _field_points(each, fields.get(each.name)) for each in schema.fields}
    parts |= {name: {"points": 0.0, "of": parts[name]["of"], "why": "declined"} for name in declined
              if name in parts and fields.get(name) is None}  # fmt: skip
    habits = {name: _behaviour_points(name, getattr(done, name)) for name in BEHAVIOUR}
    score = round(sum(part["points"] for part in parts.values()) + sum(h["points"] for h in habits.values()), 1)
    breakdown = {"fields": parts, "behaviour": habits, "total": score}
    status, reason = _status(schema, fields, score, declined)
    return Verdict(score=score, breakdown=breakdown, status=status, reason=reason)


def _field_points(spec: Field, value: Any) -> dict[str, Any]:
    if value is None:
        return {"points": 0.0, "of": spec.weight, "why": "not known yet"}
    met = _meets(spec, value)
    if met is None:
        return {"points": spec.weight / 2, "of": spec.weight, "why": "known; the rule cannot be judged from it"}
    if met:
        return {
            "points": float(spec.weight),
            "of": spec.weight,
            "why": "known" + (" and qualifies" if spec.rule else ""),
        }
    return {"points": 0.0, "of": spec.weight, "why": f"does not meet {_describe(spec.rule)}"}


def _meets(spec: Field, value: Any) -> bool | None:
    rule = spec.rule
    if not rule:
        return True
    if spec.type == "money":
        if rule.get("currency") and value.get("currency") != rule["currency"]:
            return None
        return value["amount"] >= rule.get("min_amount", 0)
    if spec.type == "timeline":
        return value["days"] <= rule.get("max_days", 10**6)
    if spec.type == "authority":
        return None if value.get("decision_maker") is None else value["decision_maker"] == rule["decision_maker"]
    if spec.type == "company_size":
        return value["max"] >= rule.get("min", 0) and value["min"] <= rule.get("max", 10**9)
    return True


def _describe(rule: dict[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in rule.items())


def _behaviour_points(name: str, amount: float) -> dict[str, Any]:
    points, full = BEHAVIOUR[name]
    return {"points": round(points * min(amount / full, 1.0), 2), "of": points, "value": amount}


def _status(schema: Schema, fields: dict[str, Any], score: float, declined: tuple[str, ...]) -> tuple[str, str]:
    broken = [
        each.name
        for each in schema.fields
        if each.disqualifies and fields.get(each.name) is not None and _meets(each, fields[each.name]) is False
    ]
    if broken:
        return "disqualified", f"{', '.join(broken)} rules it out"
    if schema.missing(fields | dict.fromkeys(declined, "declined")):
        return ("qualifying" if any(v is not None for v in fields.values()) else "new"), "still asking"
    if score >= schema.thresholds.qualified:
        return "qualified", f"every required field answered and score {score} >= {schema.thresholds.qualified}"
    if score > schema.thresholds.nurture:
        return "nurture", f"every required field answered but score {score} < {schema.thresholds.qualified}"
    return "disqualified", f"score {score} <= {schema.thresholds.nurture}"
