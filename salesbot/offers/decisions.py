"""The one call that decides a visitor's offer: eligibility, caps and budget left, experiment arm, then priority.

Each process keeps the live offers and running experiments in memory (read again every few seconds); a turn
costs hashing, rule evaluation and, only when a candidate has caps, one read of its counters.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select

from models.offers import CustomerClaims, Experiment, Offer
from salesbot.database import UnitOfWork
from salesbot.offers import conditions
from salesbot.offers.assignment import Arm, assign, layer_slot

CHECK_EVERY = 3.0


@dataclass(frozen=True)
class Placement:
    """A unit's arm in one running experiment."""

    experiment_id: str
    arm: str
    offer_id: str | None
    prompt: str | None
    model: str | None
    offers_arm: bool  # the experiment tests offers: its units are exposed when an offer would be shown
    unit_id: str  # the visitor or customer id the arm was drawn for
    stopped: bool = False  # a guardrail stopped this arm: its units get nothing from it, its offer included


@dataclass(frozen=True)
class Choice:
    """What the server decided: the offer to show (None for a control arm's nothing) and the arms it came from."""

    offer: Offer | None
    placements: tuple[Placement, ...] = field(default=())


@dataclass(frozen=True)
class Unit:
    visitor_id: str | None
    customer_id: str | None

    def id_for(self, kind: str) -> str | None:
        return self.customer_id if kind == "customer" else (self.visitor_id or self.customer_id)

    @property
    def key(self) -> str:
        return f"c:{self.customer_id}" if self.customer_id else f"v:{self.visitor_id}"


class Desk:
    """Decides offers and experiment arms for units, from a copy of the live offers and running experiments."""

    def __init__(self, uow: Callable[[], UnitOfWork], *, check_every: float = CHECK_EVERY) -> None:
        self._uow, self._check_every = uow, check_every
        self._read_at = -float("inf")
        self._offers: list[Offer] = []
        self._experiments: list[Experiment] = []
        self._defaults: dict[str, str] = {}  # the prompt and model that stopped experiments' winners made default
        self._lock = threading.Lock()

    def refresh(self) -> None:
        with self._lock:
            self._read_at = -float("inf")

    def defaults(self) -> dict[str, str]:
        """The prompt variant and LLM model winners made everyone's (empty: the configured ones)."""
        self._current()
        return self._defaults

    def placements(self, unit: Unit) -> tuple[Placement, ...]:
        """The unit's arm in every running experiment it falls into (a layer gives each unit one experiment)."""
        _, experiments = self._current()
        found = []
        for experiment in experiments:
            unit_id = unit.id_for(experiment.unit)
            if unit_id is None or not _in_layer(experiment, unit_id):
                continue
            arms = [Arm(a["name"], float(a["weight"])) for a in experiment.arms]
            name = assign(seed=experiment.seed, unit_id=unit_id, arms=arms, traffic=experiment.traffic)
            if name is None:
                continue
            arm = next(a for a in experiment.arms if a["name"] == name)
            found.append(
                Placement(experiment.id, name, arm.get("offer_id"), arm.get("prompt"), arm.get("model"),
                          any(a.get("offer_id") for a in experiment.arms), unit_id,
                          stopped=name in (experiment.stopped_arms or []))
            )  # fmt: skip
        return tuple(found)

    def all_stackable(self, offer_ids: list[str]) -> bool:
        offers, _ = self._current()
        stacking = {o.id for o in offers if o.stackable}
        return all(offer_id in stacking for offer_id in offer_ids)

    def choose(
        self,
        *,
        unit: Unit,
        facts: dict[str, Any],
        now: datetime | None = None,
        exclude: frozenset[str] = frozenset(),
        more: bool = False,
    ) -> Choice | None:
        """The offer this unit gets now, or None when no offer may be shown; a control arm answers a `Choice`
        without an offer, so that its exposure is recorded at the same moment as the treatment's. With `more`,
        only another stackable offer outside any offer experiment (`exclude`: those already shown)."""
        now = now or datetime.now(UTC)
        offers, _ = self._current()
        everything = self.placements(unit)
        placements = tuple(p for p in everything if not p.stopped)
        harmful = {p.offer_id for p in everything if p.stopped and p.offer_id}  # a breaker stopped these for them
        testing = [p for p in placements if p.offers_arm]
        if testing and more:
            return None  # an experiment's unit sees its arm's one offer, nothing stacked on it
        if testing:  # an experiment's unit gets its arm's offer or, in the control, none
            wanted = {p.offer_id for p in testing if p.offer_id}
            candidates = [o for o in offers if o.id in wanted]
        else:
            candidates = [o for o in offers if o.id not in exclude | harmful and (o.stackable or not more)]
        allowed = [
            o for o in candidates if _live(o, now) and (o.eligibility is None or conditions.holds(o.eligibility, facts))
        ]
        allowed = self._with_room(allowed, unit.key)
        best = max(allowed, key=lambda o: (o.priority, -o.created_at.timestamp()), default=None)
        if best is None and not testing:
            return None
        return Choice(best, placements)

    def _with_room(self, offers: list[Offer], unit_key: str) -> list[Offer]:
        """The offers whose caps and budget (read now, not from the copy) leave room for this unit."""
        capped = [o.id for o in offers if o.max_redemptions or o.max_discount_total or o.max_per_customer]
        if not capped:
            return offers
        with self._uow() as uow:
            counters = {
                row.id: row
                for row in uow.session.execute(
                    select(Offer.id, Offer.redeemed, Offer.discount_spent).where(Offer.id.in_(capped))
                )
            }
            used = dict(
                uow.session.execute(
                    select(CustomerClaims.offer_id, CustomerClaims.count).where(
                        CustomerClaims.unit_key == unit_key, CustomerClaims.offer_id.in_(capped)
                    )
                ).all()
            )
        return [o for o in offers if o.id not in counters or _room(o, counters[o.id], used.get(o.id, 0))]

    def _current(self) -> tuple[list[Offer], list[Experiment]]:
        with self._lock:
            if time.monotonic() - self._read_at >= self._check_every:
                with self._uow() as uow:
                    self._offers = list(uow.session.scalars(select(Offer).where(Offer.deleted_at.is_(None))))
                    found = uow.session.scalars(
                        select(Experiment)
                        .where(or_(Experiment.status == "running", Experiment.winner.is_not(None)))
                        .order_by(Experiment.stopped_at.is_(None), Experiment.stopped_at, Experiment.created_at)
                    ).all()
                    self._experiments = [e for e in found if e.status == "running"]
                    self._defaults = {}
                    for stopped in (e for e in found if e.status == "stopped"):
                        arm = next((a for a in stopped.arms if a["name"] == stopped.winner), {})
                        self._defaults |= {key: arm[key] for key in ("prompt", "model") if arm.get(key)}
                self._read_at = time.monotonic()
            return self._offers, self._experiments


def _eligible(offer: Offer, facts: dict[str, Any]) -> bool:
    return offer.eligibility is None or conditions.holds(offer.eligibility, facts)


def _live(offer: Offer, now: datetime) -> bool:
    return (offer.starts_at is None or offer.starts_at <= now) and (offer.ends_at is None or offer.ends_at > now)


def _room(offer: Offer, counters: Any, used: int) -> bool:
    if offer.max_redemptions is not None and counters.redeemed >= offer.max_redemptions:
        return False
    if offer.max_discount_total is not None and counters.discount_spent >= offer.max_discount_total:
        return False
    return offer.max_per_customer is None or used < offer.max_per_customer


def _in_layer(experiment: Experiment, unit_id: str) -> bool:
    if not experiment.layer:
        return True
    slot = layer_slot(layer=experiment.layer, unit_id=unit_id)
    return experiment.layer_start <= slot < experiment.layer_end


def card(offer: Offer, code: str | None) -> dict[str, Any]:
    """The offer as the reply carries it and the brain is told it: exact figures, code, terms and expiry."""
    expires = offer.ends_at.isoformat() if offer.ends_at else None
    return {
        "offer_id": offer.id,
        "title": offer.name,
        "kind": offer.kind,
        "value": offer.value,
        "currency": offer.currency,
        "code": code,
        "terms": offer.terms,
        "expires_at": expires,
        "text": wording(offer, code),
    }


def wording(offer: Offer, code: str | None) -> str:
    """The server's own sentence for the offer, which the rules brain says and the LLM may reword."""
    value = f"{offer.value:g}" if offer.value is not None else ""
    what = {
        "percent": f"{value}% off",
        "amount": f"{value} {offer.currency or ''} off".replace("  ", " "),
        "free_shipping": "free shipping",
        "gift": "a free gift",
        "text": offer.name,
    }[offer.kind]
    said = f"{offer.name}: {what}" if offer.kind != "text" else what
    if code:
        said += f" with the code {code}"
    if offer.ends_at:
        said += f", until {offer.ends_at:%Y-%m-%d}"
    return said + "." + (f" {offer.terms}" if offer.terms else "")
