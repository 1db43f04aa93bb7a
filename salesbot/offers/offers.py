"""Offers marketers define: checked values, every change kept with who and when, soft deletion."""

from __future__ import annotations

import math
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from models.offers import Offer, OfferChange
from salesbot.catalog.rules import currency_problem, text_problem
from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput, NotFound
from salesbot.offers import conditions

KINDS = ("percent", "amount", "free_shipping", "gift", "text")
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,63}")
LARGEST = 1e9
EDITABLE = (
    "name", "kind", "value", "currency", "terms", "code", "unique_codes", "starts_at", "ends_at", "priority",
    "stackable", "eligibility", "max_redemptions", "max_per_customer", "max_discount_total",
)  # fmt: skip


def create(*, uow: UnitOfWork, changed_by: str | None, **values: Any) -> Offer:
    checked = _checked({"terms": "", "priority": 0, "stackable": False, "unique_codes": False} | values)
    offer = Offer(id="off_" + secrets.token_hex(6), **checked)
    with uow:
        uow.session.add(offer)
        uow.session.flush()
        _record(uow, offer.id, "created", changed_by, None, describe(offer))
        uow.commit()
        return offer


def update(*, uow: UnitOfWork, offer_id: str, changed_by: str | None, **values: Any) -> Offer:
    with uow:
        offer = _get(uow, offer_id)
        before = describe(offer)
        merged = {name: getattr(offer, name) for name in EDITABLE} | values
        checked = _checked(merged)
        for name, value in checked.items():
            setattr(offer, name, value)
        offer.version += 1
        offer.updated_at = datetime.now(UTC)
        _record(uow, offer.id, "updated", changed_by, before, describe(offer))
        uow.commit()
        return offer


def delete(*, uow: UnitOfWork, offer_id: str, changed_by: str | None) -> None:
    """Stop showing the offer; it stays on record for the exposures and redemptions that name it."""
    with uow:
        offer = _get(uow, offer_id)
        offer.deleted_at = datetime.now(UTC)
        _record(uow, offer.id, "deleted", changed_by, describe(offer), None)
        uow.commit()


def get(*, uow: UnitOfWork, offer_id: str) -> Offer:
    with uow:
        return _get(uow, offer_id)


def get_all(*, uow: UnitOfWork) -> list[Offer]:
    with uow:
        found = select(Offer).where(Offer.deleted_at.is_(None)).order_by(Offer.priority.desc(), Offer.created_at)
        return list(uow.session.scalars(found))


def changes(*, uow: UnitOfWork, subject_id: str) -> list[OfferChange]:
    with uow:
        found = select(OfferChange).where(OfferChange.subject_id == subject_id).order_by(OfferChange.id)
        return list(uow.session.scalars(found))


def describe(offer: Offer) -> dict[str, Any]:
    """The offer as JSON values, as its history keeps it."""
    values = {name: getattr(offer, name) for name in EDITABLE}
    for name in ("starts_at", "ends_at"):
        values[name] = values[name].isoformat() if values[name] else None
    return values | {"version": offer.version}


def _get(uow: UnitOfWork, offer_id: str) -> Offer:
    offer = uow.session.get(Offer, offer_id)
    if offer is None or offer.deleted_at is not None:
        raise NotFound(f"no offer {offer_id!r}")
    return offer


def _record(uow: UnitOfWork, subject_id: str, action: str, by: str | None, before: Any, after: Any) -> None:
    uow.session.add(OfferChange(subject_id=subject_id, action=action, changed_by=by, before=before, after=after))


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """The offer's values, or `InvalidInput` naming every field that is wrong (nothing is saved then)."""
    problems: dict[str, str] = {}
    kind = values.get("kind")
    if kind not in KINDS:
        problems["kind"] = f"must be one of {', '.join(KINDS)}"
    for name in ("name", "terms"):
        text = values.get(name)
        if name == "name" and not (isinstance(text, str) and text.strip()):
            problems[name] = "must not be empty"
        elif isinstance(text, str) and (problem := text_problem(text)):
            problems[name] = problem
    problems |= _value_problems(kind, values.get("value"), values.get("currency"))
    code = values.get("code")
    if code is not None and not CODE.fullmatch(str(code)):
        problems["code"] = "3 to 64 letters, digits, '-' or '_', starting with a letter or digit"
    if code is not None and values.get("unique_codes"):
        problems["codes"] = "either one shared `code` or `codes: unique`, not both"
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if starts and ends and ends <= starts:
        problems["ends_at"] = "must be after starts_at"
    for name in ("max_redemptions", "max_per_customer"):
        cap = values.get(name)
        if cap is not None and not (isinstance(cap, int) and 1 <= cap <= LARGEST):
            problems[name] = "a whole number of at least 1"
    total = values.get("max_discount_total")
    if total is not None and not (isinstance(total, int | float) and math.isfinite(total) and 0 < total <= LARGEST):
        problems["max_discount_total"] = "an amount of money above 0"
    if values.get("eligibility") is not None:
        problems |= conditions.problems(values["eligibility"], at="eligibility")
    if problems:
        first = next(iter(problems))
        raise InvalidInput(f"{first}: {problems[first]}", {name: [text] for name, text in problems.items()})
    return {name: values.get(name) for name in EDITABLE}


def _value_problems(kind: Any, value: Any, currency: Any) -> dict[str, str]:
    number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "percent" and not (number and 0 < value <= 100):
        return {"value": "a percent offer needs a value above 0 and at most 100"}
    if kind == "amount":
        if not (number and 0 < value <= LARGEST):
            return {"value": "an amount offer needs a value above 0"}
        if not isinstance(currency, str) or currency_problem(currency):
            return {"currency": "an amount offer needs an ISO 4217 currency code (EUR, USD, ...)"}
    elif kind in ("free_shipping", "gift", "text") and value is not None and not number:
        return {"value": "a number, or nothing"}
    if currency is not None and (not isinstance(currency, str) or currency_problem(currency)):
        return {"currency": "an ISO 4217 currency code (EUR, USD, ...)"}
    return {}
