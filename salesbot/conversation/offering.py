"""When a conversation shows an offer, and which: the turn asks the offers domain at the right moment (need and
budget known, or the visitor hesitates on price; never to someone who declined twice; once per conversation),
hands the brain the chosen offer as a fact, and records it as shown with the turn."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from models import Conversation, Lead
from salesbot.database import UnitOfWork
from salesbot.offers import exposures, facts, redemptions
from salesbot.offers.decisions import Choice, Desk, Placement, Unit, card

HESITATES = re.compile(
    r"\b(too expensive|expensive|pricey|cheaper|discount|deal|coupon|promo|voucher|can'?t afford|over my budget|"
    r"price is (?:too )?high|any offers?|rabatt|gutschein|zu teuer|descuento|cup[oó]n|remise|trop cher)\b",
    re.I,
)


@dataclass(frozen=True)
class Offering:
    """This turn's offer: the card the brain words and the reply carries (None for a control arm), and the
    decision to record with the turn."""

    card: dict[str, Any] | None
    choice: Choice


def unit_of(conversation: Conversation) -> Unit:
    return Unit(visitor_id=conversation.visitor_id, customer_id=conversation.customer_id)


def variant(desk: Desk | None, conversation: Conversation) -> tuple[str | None, str | None]:
    """The prompt variant and LLM model for this conversation: its experiment arms', else the winners' defaults."""
    if desk is None:
        return None, None
    arms: tuple[Placement, ...] = tuple(p for p in desk.placements(unit_of(conversation)) if not p.stopped)
    defaults = desk.defaults()
    prompt = next((arm.prompt for arm in arms if arm.prompt), defaults.get("prompt"))
    model = next((arm.model for arm in arms if arm.model), defaults.get("model"))
    return prompt, model


def moment(
    *, desk: Desk | None, text: str, known: dict[str, Any], declined: tuple[str, ...], exposed: list[str | None]
) -> str | None:
    """Whether an offer may be shown now: "first", "more" (another stackable one, when every offer shown so far
    stacks and the visitor asks about price again), or None. `exposed`: the conversation's exposures so far (an
    offer id, or None for an experiment control's nothing)."""
    if desk is None or len(declined) >= 2:
        return None
    hesitates = HESITATES.search(text) is not None
    if exposed:
        shown = [offer_id for offer_id in exposed if offer_id]
        return "more" if len(shown) == len(exposed) and hesitates and desk.all_stackable(shown) else None
    return "first" if {"need", "budget"} <= known.keys() or hesitates else None


def choose(
    *,
    desk: Desk,
    uow: UnitOfWork,
    conversation: Conversation,
    lead: Lead,
    known: dict[str, Any],
    exposed: list[str | None],
    more: bool,
    now: datetime,
) -> Offering | None:
    unit = unit_of(conversation)
    with uow:
        seen = facts.gather(uow.session, conversation=conversation, fields=known, status=lead.status,
                            score=lead.score, now=now)  # fmt: skip
    choice = desk.choose(unit=unit, facts=seen, now=now, exclude=frozenset(e for e in exposed if e), more=more)
    if choice is None:
        return None
    if choice.offer is None:
        return Offering(None, choice)
    code = redemptions.code_for(uow=uow, offer=choice.offer, unit=unit.key)
    return Offering(card(choice.offer, code), choice)


def record(session: Session, *, conversation: Conversation, offering: Offering, now: datetime) -> None:
    """The offer was shown with this turn: an exposure, and the conversation's own list of offers shown."""
    code = offering.card["code"] if offering.card else None
    shown = offering.card["offer_id"] if offering.card else None
    conversation.offers_shown = [*(conversation.offers_shown or []), shown]
    exposures.record(session, conversation_id=conversation.id, unit=unit_of(conversation), choice=offering.choice,
                     code=code, now=now)  # fmt: skip


def shown(offer_card: dict[str, Any] | None) -> dict[str, Any] | None:
    """The offer as the reply carries it (the wording stays the brain's)."""
    if offer_card is None:
        return None
    return {key: value for key, value in offer_card.items() if key != "text"}


def record_variant(session: Session, *, desk: Desk, conversation: Conversation, now: datetime) -> None:
    """An LLM turn worded with an experiment's prompt variant or model: the unit is in that experiment."""
    for placement in desk.placements(unit_of(conversation)):
        if not placement.offers_arm and not placement.stopped and (placement.prompt or placement.model):
            exposures.enter(session, unit=unit_of(conversation), placement=placement, now=now)
