"""Proactive chat triggers marketers set: checked values, and the active ones as the widget's loader reads them."""

from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from models.widget import Trigger
from salesbot.catalog.rules import text_problem
from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput, NotFound

KINDS = ("time_on_page", "exit_intent", "cart_value", "viewed_category")
# The one setting each kind fires on (an exit intent needs none), and what a marketer is told when it is missing.
FIRES_ON = {"time_on_page": "seconds", "cart_value": "amount", "viewed_category": "category", "exit_intent": None}
NEEDS = {
    "seconds": "a time_on_page trigger needs the seconds on the page after which it fires",
    "amount": "a cart_value trigger needs the cart total that fires it",
    "category": "a viewed_category trigger needs the category whose pages fire it",
}
TEXTS = {"name": 200, "message": 500, "category": 200}  # longest allowed, in characters
WHOLE_NUMBERS = {"seconds": (1, 3600), "max_shows": (1, 100), "hours_between": (0, 8760), "priority": (-1000, 1000)}
LARGEST_AMOUNT = 1e9
EDITABLE = (
    "name", "kind", "seconds", "amount", "category", "message", "max_shows", "hours_between", "active", "priority",
)  # fmt: skip
DEFAULTS = {"max_shows": 1, "hours_between": 24, "active": True, "priority": 0}
IN_PRIORITY = (Trigger.priority.desc(), Trigger.created_at, Trigger.id)


def create(*, uow: UnitOfWork, **values: Any) -> Trigger:
    trigger = Trigger(id="trg_" + secrets.token_hex(6), **_checked(DEFAULTS | values))
    with uow:
        uow.session.add(trigger)
        uow.commit()
        return trigger


def get(*, uow: UnitOfWork, trigger_id: str) -> Trigger:
    with uow:
        return _get(uow, trigger_id)


def get_all(*, uow: UnitOfWork) -> list[Trigger]:
    """Every trigger, active or not, highest priority first."""
    with uow:
        return list(uow.session.scalars(select(Trigger).order_by(*IN_PRIORITY)))


def update(*, uow: UnitOfWork, trigger_id: str, **values: Any) -> Trigger:
    """Change the values sent; a new kind drops the old kind's setting unless it is sent again."""
    with uow:
        trigger = _get(uow, trigger_id)
        current = {name: getattr(trigger, name) for name in EDITABLE}
        if values.get("kind", trigger.kind) != trigger.kind:
            current |= dict.fromkeys(NEEDS)
        for name, value in _checked(current | values).items():
            setattr(trigger, name, value)
        trigger.updated_at = datetime.now(UTC)
        uow.commit()
        return trigger


def delete(*, uow: UnitOfWork, trigger_id: str) -> None:
    with uow:
        uow.session.delete(_get(uow, trigger_id))
        uow.commit()


def for_site(*, uow: UnitOfWork) -> list[dict[str, Any]]:
    """The active triggers, highest priority first, as the widget's loader needs them in the browser."""
    with uow:
        found = select(Trigger).where(Trigger.active.is_(True)).order_by(*IN_PRIORITY)
        return [_for_loader(trigger) for trigger in uow.session.scalars(found)]


def _for_loader(trigger: Trigger) -> dict[str, Any]:
    shown = ("kind", "seconds", "amount", "category", "message", "max_shows", "hours_between")
    return {"trigger_id": trigger.id} | {name: getattr(trigger, name) for name in shown}


def _get(uow: UnitOfWork, trigger_id: str) -> Trigger:
    trigger = uow.session.get(Trigger, trigger_id)
    if trigger is None:
        raise NotFound(f"no widget trigger {trigger_id!r}")
    return trigger


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """The trigger's values with texts stripped, or `InvalidInput` naming every field that is wrong (nothing is
    saved then)."""
    values = {name: values.get(name) for name in EDITABLE}
    for name in TEXTS:
        if isinstance(values[name], str):
            values[name] = values[name].strip()
    problems = _text_problems(values) | _number_problems(values) | _setting_problems(values)
    if problems:
        first = next(iter(problems))
        raise InvalidInput(f"{first}: {problems[first]}", {name: [text] for name, text in problems.items()})
    return values


def _text_problems(values: dict[str, Any]) -> dict[str, str]:
    problems = {}
    for name, longest in TEXTS.items():
        text = values[name]
        if text is None and name == "category":
            continue  # whether the kind needs it is _setting_problems' question
        if not isinstance(text, str) or not text:
            problems[name] = "must not be empty"
        elif len(text) > longest:
            problems[name] = f"must be at most {longest} characters"
        elif problem := text_problem(text):
            problems[name] = problem
    return problems


def _number_problems(values: dict[str, Any]) -> dict[str, str]:
    problems = {}
    for name, (lowest, highest) in WHOLE_NUMBERS.items():
        number = values[name]
        if (number is not None or name != "seconds") and not _whole(number, lowest, highest):
            problems[name] = f"must be a whole number from {lowest} to {highest}"
    amount = values["amount"]
    if amount is not None and not (_number(amount) and 0 < amount <= LARGEST_AMOUNT):
        problems["amount"] = "must be a cart total above 0"
    if not isinstance(values["active"], bool):
        problems["active"] = "must be true or false"
    return problems


def _setting_problems(values: dict[str, Any]) -> dict[str, str]:
    """Each kind takes its own setting and no other's: a stray one is refused rather than silently ignored."""
    kind = values["kind"]
    if kind not in KINDS:
        return {"kind": f"must be one of {', '.join(KINDS)}"}
    problems = {}
    for name, needed in NEEDS.items():
        if FIRES_ON[kind] == name and values[name] is None:
            problems[name] = needed
        elif FIRES_ON[kind] != name and values[name] is not None:
            problems[name] = f"only {_kind_taking(name)} triggers take {name}; leave it out of {kind} triggers"
    return problems


def _kind_taking(setting: str) -> str:
    return next(kind for kind, fires_on in FIRES_ON.items() if fires_on == setting)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any, lowest: int, highest: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lowest <= value <= highest
