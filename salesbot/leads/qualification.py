"""The qualification schema: what the bot asks, in which order, and how each answer counts in a lead's score.

Marketers edit it; every save is a new version and a conversation keeps the version it started with.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from models import QualificationSchema
from models.base import utcnow
from salesbot.catalog.rules import currency_problem
from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput, NotFound

TYPES = ("need", "money", "timeline", "authority", "company", "company_size", "name", "email", "phone", "text")
log = logging.getLogger(__name__)
DECLINED = "_declined"  # a lead's fields keep, under this key, the names of those the visitor chose not to give


def known(fields: dict[str, Any]) -> dict[str, Any]:
    """A lead's field values, without the bookkeeping of what was declined."""
    return {name: value for name, value in fields.items() if name != DECLINED}


def declined(fields: dict[str, Any]) -> list[str]:
    """The fields the visitor chose not to give."""
    return list(fields.get(DECLINED) or ())


MAX_AMOUNT = 10**12
MAX_DAYS = 3650
MAX_PEOPLE = 10**7


def _number(value: Any, *, most: float, whole: bool = False) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "must be a number"
    if whole and value != int(value):
        return "must be a whole number"
    if not 0 <= value <= most:
        return f"must be between 0 and {most:,}"
    return None


def _currency(value: Any) -> str | None:
    return None if isinstance(value, str) and currency_problem(value) is None else "must be an ISO 4217 code like EUR"


def _yes_no(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


RULES: dict[str, dict[str, Callable[[Any], str | None]]] = {  # the rule keys each type understands, and their checks
    "money": {"min_amount": lambda value: _number(value, most=MAX_AMOUNT), "currency": _currency},
    "timeline": {"max_days": lambda value: _number(value, most=MAX_DAYS)},
    "authority": {"decision_maker": _yes_no},
    "company_size": {
        "min": lambda value: _number(value, most=MAX_PEOPLE, whole=True),
        "max": lambda value: _number(value, most=MAX_PEOPLE, whole=True),
    },
}


def rule_problems(kind: str, rule: Any) -> dict[str, str]:
    """Each bad key of a field's `rule` and what is wrong with it; empty when the rule is good."""
    if not isinstance(rule, dict):
        return {"": "must be an object"}
    understood = RULES.get(kind, {})
    found = {key: f"a {kind} field has no rule {key!r}" for key in rule if key not in understood}
    found |= {key: problem for key, value in rule.items() if key in understood and (problem := understood[key](value))}
    if not found and kind == "company_size" and rule.get("min", 0) > rule.get("max", MAX_PEOPLE):
        found["min"] = "must not be above max"
    return found


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    question: str
    required: bool = False
    weight: float = 0.0  # points in the score (0-100 in all, with behaviour)
    rule: dict[str, Any] = field(default_factory=dict)  # when the value qualifies; empty: any value does
    disqualifies: bool = False  # a value that breaks the rule disqualifies the lead


@dataclass(frozen=True)
class Thresholds:
    qualified: float = 60.0  # every required field known and at least this score
    hot: float = 80.0  # hand the conversation to a rep
    nurture: float = 0.0  # required fields known but below `qualified`: nurture (above this) or disqualified


@dataclass(frozen=True)
class Schema:
    version: int
    fields: tuple[Field, ...]
    thresholds: Thresholds

    def field(self, name: str) -> Field | None:
        return next((each for each in self.fields if each.name == name), None)

    def missing(self, known: dict[str, Any]) -> list[str]:
        """Required fields not known yet, in asking order."""
        return [each.name for each in self.fields if each.required and known.get(each.name) is None]

    def next_question(self, known: dict[str, Any]) -> Field | None:
        """The first unknown field: required ones first, then the optional ones, in the schema's order."""
        unknown = [each for each in self.fields if known.get(each.name) is None]
        return next((each for each in unknown if each.required), unknown[0] if unknown else None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "fields": [asdict(each) for each in self.fields],
            "thresholds": asdict(self.thresholds),
        }


DEFAULT_FIELDS = (
    Field("need", "need", "What are you looking for?", required=True, weight=15),
    Field("budget", "money", "What budget do you have in mind?", required=True, weight=20, rule={"min_amount": 100}),
    Field("timeline", "timeline", "When do you need it by?", required=True, weight=15, rule={"max_days": 90}),
    Field(
        "authority",
        "authority",
        "What is your role, and will you make the buying decision?",
        required=True,
        weight=15,
        rule={"decision_maker": True},
    ),
    Field("company", "company", "Which company are you with?", weight=5),
    Field("company_size", "company_size", "How many people work there?", weight=5),
    Field("name", "name", "Who am I talking to?", weight=5),
    Field("email", "email", "Which e-mail address should our team use to reach you?", required=True, weight=5),
    Field("phone", "phone", "And a phone number, if you would like a call?", weight=5),
)


def current(*, uow: UnitOfWork) -> Schema:
    """The newest version, or the built-in default (version 1, saved on first use)."""
    with uow:
        row = uow.session.scalar(select(QualificationSchema).order_by(QualificationSchema.version.desc()).limit(1))
        if row is not None:
            return _schema(row)
        row = QualificationSchema(
            version=1, fields=[asdict(each) for each in DEFAULT_FIELDS], thresholds=asdict(Thresholds())
        )
        uow.session.add(row)
        try:
            uow.commit()
        except IntegrityError:  # another process saved version 1 first
            uow.session.rollback()
            row = uow.session.get(QualificationSchema, 1)
        return _schema(row)


def get(*, uow: UnitOfWork, version: int) -> Schema:
    with uow:
        row = uow.session.get(QualificationSchema, version)
        if row is None:
            raise NotFound(f"no qualification schema version {version}")
        return _schema(row)


def save(*, uow: UnitOfWork, fields: list[dict[str, Any]], thresholds: dict[str, Any], author: str | None) -> Schema:
    """A new version; the body is checked as a whole first, so a bad field saves nothing."""
    checked = [_field(each, index) for index, each in enumerate(fields)]
    _check_names(checked)
    limits = _thresholds(thresholds)
    with uow:
        newest = uow.session.scalar(select(func.max(QualificationSchema.version))) or 0
        row = QualificationSchema(
            version=newest + 1,
            fields=[asdict(each) for each in checked],
            thresholds=asdict(limits),
            created_at=utcnow(),
            created_by=author,
        )
        uow.session.add(row)
        uow.commit()
        return _schema(row)


def _field(given: dict[str, Any], index: int) -> Field:
    where = f"fields.{index}"
    if given.get("type") not in TYPES:
        raise InvalidInput.for_field(f"{where}.type", f"must be one of {', '.join(TYPES)}")
    found = rule_problems(given["type"], given.get("rule") or {})
    if found:
        named = {f"{where}.rule.{key}".rstrip("."): [problem] for key, problem in found.items()}
        raise InvalidInput("; ".join(f"{name}: {problem[0]}" for name, problem in named.items()), named)
    return Field(**given)


def _thresholds(given: dict[str, Any]) -> Thresholds:
    limits = Thresholds(**given)
    if limits.hot < limits.qualified:
        raise InvalidInput.for_field("thresholds.hot", f"must be at least qualified ({limits.qualified})")
    if limits.nurture > limits.qualified:
        raise InvalidInput.for_field("thresholds.nurture", f"must be at most qualified ({limits.qualified})")
    return limits


def _check_names(fields: list[Field]) -> None:
    names = [each.name for each in fields]
    if len(set(names)) != len(names):
        raise InvalidInput.for_field("fields", "field names must be unique")
    if not any(each.required for each in fields):
        raise InvalidInput.for_field("fields", "at least one field must be required")


def _schema(row: QualificationSchema) -> Schema:
    """A stored version as the turn uses it. Versions saved before rules were checked may hold values no rule can
    use ("lots" as an amount): those rules are dropped, with a warning, so that every turn still answers."""
    fields = tuple(_stored_field(each, row.version) for each in row.fields)
    try:
        limits = _thresholds(row.thresholds)
    except (InvalidInput, TypeError):
        log.warning("qualification schema %s: unusable thresholds %r; using the defaults", row.version, row.thresholds)
        limits = Thresholds()
    return Schema(version=row.version, fields=fields, thresholds=limits)


def _stored_field(stored: dict[str, Any], version: int) -> Field:
    known = {name: stored[name] for name in Field.__dataclass_fields__ if name in stored}
    rule = known.get("rule") if isinstance(known.get("rule"), dict) else {}
    bad = rule_problems(known.get("type", "text"), rule)
    if bad:
        log.warning("qualification schema %s, field %s: rule %s ignored", version, known.get("name"), bad)
    known["rule"] = {key: value for key, value in rule.items() if key not in bad}
    known["question"] = str(known.get("question", "")).encode("utf-8", "replace").decode("utf-8")
    return Field(**known)
