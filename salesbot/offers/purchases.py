"""Purchases reported as events: a purchase that names an offer (`offer_id` or its `code`) redeems it, and every
purchase counts, once, for the experiments its customer is in (revenue = the item's price times the quantity)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError

from models import Item
from models.offers import CountedPurchase, ExperimentUnit, Offer, OfferCode
from salesbot.database import UnitOfWork
from salesbot.errors import SalesbotError
from salesbot.offers import exposures, redemptions

log = logging.getLogger(__name__)


def follow(*, uow: UnitOfWork, events: list[Any], now: datetime) -> None:
    """Count the batch's purchases for offers (a redemption, idempotent by the event id) and experiments (once per
    event id, in the same transaction as the count)."""
    bought = [e for e in events if _purchase(e)]
    if not bought:
        return
    with uow:
        experimenting = uow.session.scalar(select(exists().where(ExperimentUnit.unit_id.is_not(None))))
    for event in bought:
        if not (experimenting or event.get("offer_id") or event.get("code")):
            continue
        value = _order_value(uow, event)
        if event.get("offer_id") or event.get("code"):
            _redeem(uow, event, value)
        if experimenting:
            _count(uow, event, value, now)


def _count(uow: UnitOfWork, event: dict, value: float, now: datetime) -> None:
    moment = event["occurred_at"] if isinstance(event.get("occurred_at"), datetime) else now
    moment = moment if moment.tzinfo else now
    with uow:
        uow.session.add(CountedPurchase(event_id=event["event_id"]))
        try:
            uow.session.flush()
        except IntegrityError:  # counted before (the event was sent again)
            return
        exposures.bought(uow.session, customer_id=_id(event, "customer_id"), visitor_id=_id(event, "visitor_id"),
                         value=value, at=moment)  # fmt: skip
        uow.commit()


def _id(event: dict, name: str) -> str | None:
    return event[name] if isinstance(event.get(name), str) and event[name] else None


def _purchase(event: Any) -> bool:
    return isinstance(event, dict) and event.get("type") == "purchase" and isinstance(event.get("event_id"), str)


def _order_value(uow: UnitOfWork, event: dict) -> float:
    with uow:
        price = uow.session.scalar(select(Item.price).where(Item.item_id == event.get("item_id")))
    quantity = event.get("value") if isinstance(event.get("value"), int | float) else 1
    return round(float(price or 0) * float(quantity or 1), 2)


def _redeem(uow: UnitOfWork, event: dict, value: float) -> None:
    offer_id = event.get("offer_id") or _by_code(uow, event.get("code"))
    if offer_id is None:
        log.warning("purchase %s names code %r, which no offer has", event["event_id"], event.get("code"))
        return
    try:
        unit = redemptions.unit_key(customer_id=event.get("customer_id"), visitor_id=event.get("visitor_id"))
        redemptions.redeem(uow=uow, offer_id=offer_id, redemption_id=event["event_id"], unit=unit,
                           code=event.get("code"), order_value=value)  # fmt: skip
    except SalesbotError as refused:  # the purchase stands; the offer was not granted (cap spent, wrong code)
        log.warning("purchase %s did not redeem offer %s: %s", event["event_id"], offer_id, refused.detail)


def _by_code(uow: UnitOfWork, code: Any) -> str | None:
    if not isinstance(code, str) or not code:
        return None
    with uow:
        shared = uow.session.scalars(
            select(Offer.id).where(func.upper(Offer.code) == code.upper(), Offer.deleted_at.is_(None))
            .order_by(Offer.priority.desc(), Offer.created_at.desc())
        ).first()  # fmt: skip
        return shared or uow.session.scalar(select(OfferCode.offer_id).where(OfferCode.code == code.upper()))
