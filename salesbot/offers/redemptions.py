"""Redeeming an offer on an order: code checks, and caps and budgets that hold under concurrency.

Every cap moves by one conditional UPDATE (`... WHERE redeemed < max_redemptions`) as the transaction's first
write, so on PostgreSQL and on SQLite alike two claims can never both take the last unit. Codes made for one
visitor (`codes: unique`) are used up by the same kind of UPDATE.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from models.offers import CustomerClaims, Experiment, ExperimentUnit, Offer, OfferCode, Redemption
from salesbot.database import UnitOfWork
from salesbot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from salesbot.webhooks import outbox

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def unit_key(*, customer_id: str | None, visitor_id: str | None) -> str:
    """Who claims: a customer when known, else the visitor."""
    if customer_id:
        return f"c:{customer_id}"
    if visitor_id:
        return f"v:{visitor_id}"
    raise InvalidInput.for_field("customer_id", "send customer_id or visitor_id")


def code_for(*, uow: UnitOfWork, offer: Offer, unit: str) -> str | None:
    """The code this unit is shown: the shared one, or its own single-use code (made once, then the same)."""
    if not offer.unique_codes:
        return offer.code
    with uow:
        made = uow.session.scalar(
            select(OfferCode.code).where(OfferCode.offer_id == offer.id, OfferCode.unit_key == unit)
        )
        if made:
            return made
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
        uow.session.add(OfferCode(code=code, offer_id=offer.id, unit_key=unit))
        try:
            uow.commit()
        except IntegrityError:  # the same unit's other conversation made it first
            uow.session.rollback()
            return uow.session.scalar(
                select(OfferCode.code).where(OfferCode.offer_id == offer.id, OfferCode.unit_key == unit)
            )
        return code


def redeem(
    *,
    uow: UnitOfWork,
    offer_id: str,
    redemption_id: str,
    unit: str,
    code: str | None,
    order_value: float | None,
    now: datetime | None = None,
) -> tuple[Redemption, bool]:
    """Use the offer once; `(redemption, created)`. The same redemption id again answers the first one."""
    now = now or datetime.now(UTC)
    with uow:
        earlier = uow.session.get(Redemption, redemption_id)
        offer = uow.session.get(Offer, offer_id)
    if earlier is not None:
        if earlier.offer_id != offer_id:
            raise Conflict(f"redemption {redemption_id} was made for offer {earlier.offer_id}")
        return earlier, False
    if offer is None or offer.deleted_at is not None:
        raise NotFound(f"no offer {offer_id!r}")
    if order_value is None and offer.kind == "percent" and offer.max_discount_total is not None:
        raise InvalidInput.for_field("order_value", "this offer has a discount budget: send the order's value")
    discount = _discount(offer, order_value)
    try:
        return _record(uow, offer, redemption_id, unit, code, order_value, discount, now)
    except (Conflict, PermissionDenied):
        with uow:  # the same redemption id sent at the same moment won the claim first: answer it
            stored = uow.session.get(Redemption, redemption_id)
        if stored is not None and stored.offer_id == offer_id:
            return stored, False
        raise


def _record(
    uow: UnitOfWork, offer: Offer, redemption_id: str, unit: str, code: str | None, order_value: float | None,
    discount: float, now: datetime,
) -> tuple[Redemption, bool]:  # fmt: skip
    offer_id = offer.id
    with uow:
        _claim(uow, offer, discount, now)  # first write: it takes SQLite's write lock before anything is read
        _use_code(uow, offer, code, unit, now)
        if offer.max_per_customer is not None:
            _claim_for(uow, offer, unit)
        redemption = Redemption(
            id=redemption_id, offer_id=offer_id, unit_key=unit, code=code, order_value=order_value, discount=discount
        )
        uow.session.add(redemption)
        try:
            uow.session.flush()
            _count_in_experiments(uow, unit, discount)
            outbox.emit(uow.session, "offer.redeemed", describe(redemption), now=now)
            uow.commit()
            return redemption, True
        except IntegrityError:  # the same redemption id, sent twice at once: the other one counted
            uow.session.rollback()
    with uow:
        stored = uow.session.get(Redemption, redemption_id)
    if stored is None:
        raise Conflict(f"redemption {redemption_id} could not be recorded; send it again")
    return stored, False


def describe(redemption: Redemption) -> dict[str, Any]:
    return {
        "redemption_id": redemption.id,
        "offer_id": redemption.offer_id,
        "customer_id": redemption.unit_key[2:] if redemption.unit_key.startswith("c:") else None,
        "visitor_id": redemption.unit_key[2:] if redemption.unit_key.startswith("v:") else None,
        "code": redemption.code,
        "order_value": redemption.order_value,
        "discount": redemption.discount,
        "created_at": (redemption.created_at or datetime.now(UTC)).isoformat(),
    }


def _discount(offer: Offer, order_value: float | None) -> float:
    if offer.kind == "percent" and order_value:
        return round(order_value * (offer.value or 0) / 100, 2)
    if offer.kind == "amount":
        return float(min(offer.value or 0, order_value)) if order_value is not None else float(offer.value or 0)
    return 0.0


def _claim(uow: UnitOfWork, offer: Offer, discount: float, now: datetime) -> None:
    """One unit of the offer's caps and budget, or `Conflict` saying which is spent."""
    claimed = uow.session.execute(
        update(Offer)
        .where(
            Offer.id == offer.id,
            Offer.deleted_at.is_(None),
            or_(Offer.starts_at.is_(None), Offer.starts_at <= now),
            or_(Offer.ends_at.is_(None), Offer.ends_at > now),
            or_(Offer.max_redemptions.is_(None), Offer.redeemed < Offer.max_redemptions),
            or_(Offer.max_discount_total.is_(None), Offer.discount_spent + discount <= Offer.max_discount_total),
        )
        .values(redeemed=Offer.redeemed + 1, discount_spent=Offer.discount_spent + discount)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        fresh = uow.session.get(Offer, offer.id, populate_existing=True)
        raise Conflict(_why_not(fresh or offer, discount, now))


def _why_not(offer: Offer, discount: float, now: datetime) -> str:
    if offer.starts_at and offer.starts_at > now:
        return f"offer {offer.id} starts at {offer.starts_at.isoformat()}"
    if offer.ends_at and offer.ends_at <= now:
        return f"offer {offer.id} expired at {offer.ends_at.isoformat()}"
    if offer.max_redemptions is not None and offer.redeemed >= offer.max_redemptions:
        return f"offer {offer.id} is fully redeemed (max_redemptions {offer.max_redemptions})"
    if offer.max_discount_total is not None and discount > 0:
        return f"offer {offer.id} has no discount budget left (max_discount_total {offer.max_discount_total})"
    return f"offer {offer.id} is fully redeemed (max_redemptions {offer.max_redemptions})"


def _use_code(uow: UnitOfWork, offer: Offer, code: str | None, unit: str, now: datetime) -> None:
    if offer.unique_codes:
        if not code:
            raise InvalidInput.for_field("code", "this offer's codes are single-use; send the code the visitor got")
        code = code.strip().upper()
        used = uow.session.execute(
            update(OfferCode)
            .where(
                OfferCode.code == code,
                OfferCode.offer_id == offer.id,
                OfferCode.used_at.is_(None),
                OfferCode.unit_key == unit,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if used != 1:
            known = uow.session.scalar(
                select(OfferCode.used_at).where(OfferCode.code == code, OfferCode.offer_id == offer.id)
            )
            if known is not None:
                raise Conflict(f"code {code} was already used")
            mine = select(OfferCode.unit_key).where(OfferCode.code == code, OfferCode.offer_id == offer.id)
            if uow.session.scalar(mine) not in (None, unit):
                raise PermissionDenied(f"code {code} was made for someone else; single-use codes are personal")
            raise InvalidInput.for_field("code", f"{code!r} is not a code of offer {offer.id}")
    elif offer.code is not None and code is not None and code.strip().upper() != offer.code.upper():
        raise InvalidInput.for_field("code", f"{code!r} is not this offer's code")


def _claim_for(uow: UnitOfWork, offer: Offer, unit: str) -> None:
    """One of the customer's own uses, by an upsert that only counts while under `max_per_customer`."""
    insert = pg_insert if uow.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(CustomerClaims).values(offer_id=offer.id, unit_key=unit, count=1)
    statement = statement.on_conflict_do_update(
        index_elements=["offer_id", "unit_key"],
        set_={"count": CustomerClaims.count + 1},
        where=CustomerClaims.count < offer.max_per_customer,
    )
    if uow.session.execute(statement.returning(CustomerClaims.count)).scalar() is None:
        raise Conflict(f"this customer has used offer {offer.id} {offer.max_per_customer} time(s), its limit")


def _count_in_experiments(uow: UnitOfWork, unit: str, discount: float) -> None:
    """The discount counts against the arms this unit is in (their discount-cost guardrail)."""
    if discount <= 0:
        return
    unit_id = unit[2:]
    mine = ExperimentUnit.customer_id == unit_id if unit.startswith("c:") else ExperimentUnit.unit_id == unit_id
    running = select(Experiment.id).where(Experiment.status == "running")
    uow.session.execute(
        update(ExperimentUnit)
        .where(mine, ExperimentUnit.experiment_id.in_(running))
        .values(discount=ExperimentUnit.discount + discount)
        .execution_options(synchronize_session=False)
    )
