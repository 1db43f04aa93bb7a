"""Offers and experiments: what marketers define, every change to it, codes, claims, redemptions and exposures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONDocument, UTCDateTime, utcnow
from models.catalog import EXTERNAL_ID
from models.conversation import SERIAL


class Offer(Base):
    """A promotion the bot may show: its terms, who may get it (a JsonLogic rule) and how much of it is left."""

    __tablename__ = "offers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # percent, amount, free_shipping, gift, text
    value: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    terms: Mapped[str] = mapped_column(Text, default="")
    code: Mapped[str | None] = mapped_column(String(64))  # one shared code; None with unique codes or no code
    unique_codes: Mapped[bool] = mapped_column(Boolean, default=False)  # a single-use code per visitor
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    stackable: Mapped[bool] = mapped_column(Boolean, default=False)
    eligibility: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)  # JsonLogic; None: everyone
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    max_per_customer: Mapped[int | None] = mapped_column(Integer)
    max_discount_total: Mapped[float | None] = mapped_column(Float)
    redeemed: Mapped[int] = mapped_column(Integer, default=0)  # counters moved by single conditional UPDATEs
    discount_spent: Mapped[float] = mapped_column(Float, default=0.0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # kept: exposures and redemptions name it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OfferChange(Base):
    """Every change to an offer or experiment: who (API key id), when, and the values before and after."""

    __tablename__ = "offer_changes"
    __table_args__ = (Index("ix_offer_changes_subject", "subject_id", "id"),)

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(32))  # off_... or exp_...
    action: Mapped[str] = mapped_column(String(16))  # created, updated, deleted, started, stopped, breached
    changed_by: Mapped[str | None] = mapped_column(String(32))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OfferCode(Base):
    """A single-use code made for one unit (visitor or customer), so codes cannot be passed around."""

    __tablename__ = "offer_codes"
    __table_args__ = (UniqueConstraint("offer_id", "unit_key"),)

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"))
    unit_key: Mapped[str] = mapped_column(String(140))  # "c:<customer_id>" or "v:<visitor_id>"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CustomerClaims(Base):
    """How often one customer (or visitor) redeemed an offer: the per-customer cap's counter."""

    __tablename__ = "offer_customer_claims"

    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"), primary_key=True)
    unit_key: Mapped[str] = mapped_column(String(140), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Redemption(Base):
    """An offer used on an order; its id is the client's, so sending it again changes nothing."""

    __tablename__ = "redemptions"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"), index=True)
    unit_key: Mapped[str] = mapped_column(String(140))
    code: Mapped[str | None] = mapped_column(String(64))
    order_value: Mapped[float | None] = mapped_column(Float)
    discount: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Experiment(Base):
    """A test of arms (an offer or none, a prompt variant, an LLM model) on visitors or customers."""

    __tablename__ = "experiments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(16))  # visitor, customer
    seed: Mapped[str] = mapped_column(String(64))
    layer: Mapped[str | None] = mapped_column(String(64))  # experiments in one layer never share a unit
    layer_start: Mapped[float] = mapped_column(Float, default=0.0)
    layer_end: Mapped[float] = mapped_column(Float, default=1.0)
    traffic: Mapped[float] = mapped_column(Float, default=1.0)
    arms: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)  # name, weight, offer_id, prompt, model
    primary_metric: Mapped[dict[str, Any]] = mapped_column(JSONDocument)  # {"kind": "qualified"|"purchase"|...}
    guardrails: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    minimum_effect: Mapped[float | None] = mapped_column(Float)  # relative uplift the test should detect
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft, running, stopped
    stopped_arms: Mapped[list[str]] = mapped_column(JSONDocument, default=list)  # guardrail breakers
    winner: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExperimentUnit(Base):
    """One unit in one experiment: its arm, when it was first exposed, and what it did since (kept up to date by
    the turn, CSAT and purchases), so results are one grouped read even at a million exposures."""

    __tablename__ = "experiment_units"
    # Without rowid, SQLite keeps the rows in primary-key order: one experiment's units are read in one sweep.
    __table_args__ = (Index("ix_experiment_units_customer_id", "customer_id"), {"sqlite_with_rowid": False})

    experiment_id: Mapped[str] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[str] = mapped_column(EXTERNAL_ID, primary_key=True)
    arm: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(EXTERNAL_ID)
    exposures: Mapped[int] = mapped_column(Integer, default=1)
    first_exposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    qualified: Mapped[bool] = mapped_column(Boolean, default=False)
    handed_off: Mapped[bool] = mapped_column(Boolean, default=False)
    purchases: Mapped[int] = mapped_column(Integer, default=0)
    revenue: Mapped[float] = mapped_column(Float, default=0.0)
    discount: Mapped[float] = mapped_column(Float, default=0.0)
    csat: Mapped[int | None] = mapped_column(Integer)


class Exposure(Base):
    """An offer (or a control arm's nothing) actually shown to a unit in a conversation."""

    __tablename__ = "exposures"
    __table_args__ = (Index("ix_exposures_conversation_id", "conversation_id"),)

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(32))
    unit_key: Mapped[str] = mapped_column(String(140))
    offer_id: Mapped[str | None] = mapped_column(String(32))
    code: Mapped[str | None] = mapped_column(String(64))
    experiment_id: Mapped[str | None] = mapped_column(String(32))
    arm: Mapped[str | None] = mapped_column(String(64))
    shown_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CountedPurchase(Base):
    """A purchase event already counted for offers and experiments, so that a resent event counts once."""

    __tablename__ = "counted_purchases"

    event_id: Mapped[str] = mapped_column(EXTERNAL_ID, primary_key=True)
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
