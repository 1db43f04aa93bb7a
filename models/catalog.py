"""The store's catalog: items it sells, customers who buy them, and what they did (events)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONDocument, UTCDateTime, utcnow

EXTERNAL_ID = String(128)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (CheckConstraint("price >= 0", name="price_not_negative"),)

    item_id: Mapped[str] = mapped_column(EXTERNAL_ID, primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(200), index=True)
    brand: Mapped[str | None] = mapped_column(String(200))
    price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    currency: Mapped[str] = mapped_column(String(3))
    in_stock: Mapped[bool] = mapped_column(Boolean, default=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Customer(Base):
    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(EXTERNAL_ID, primary_key=True)
    segment: Mapped[str | None] = mapped_column(String(100), index=True)
    country: Mapped[str | None] = mapped_column(String(2))
    email: Mapped[str | None] = mapped_column(String(320))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Event(Base):
    """Something a customer or anonymous visitor did with an item: the recommender's raw material."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("customer_id IS NOT NULL OR visitor_id IS NOT NULL", name="has_actor"),
        Index("ix_events_customer_id_occurred_at", "customer_id", "occurred_at"),
        Index("ix_events_item_id_type", "item_id", "type"),
        # Only events that came from a recommendation: attribution reads them, bulk imports pay nothing.
        Index(
            "ix_events_recommendation_id",
            "recommendation_id",
            sqlite_where=text("recommendation_id IS NOT NULL"),
            postgresql_where=text("recommendation_id IS NOT NULL"),
        ),
        # Only purchases: the KPIs' revenue and conversions read them by time; other events pay nothing.
        Index(
            "ix_events_purchases_occurred_at",
            "occurred_at",
            sqlite_where=text("type = 'purchase'"),
            postgresql_where=text("type = 'purchase'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(EXTERNAL_ID, unique=True)
    customer_id: Mapped[str | None] = mapped_column(
        EXTERNAL_ID, ForeignKey("customers.customer_id", ondelete="CASCADE")
    )
    visitor_id: Mapped[str | None] = mapped_column(EXTERNAL_ID)
    # Not a foreign key: events for items the catalog does not know yet may be kept (see settings).
    item_id: Mapped[str] = mapped_column(EXTERNAL_ID)
    type: Mapped[str] = mapped_column(String(32))
    value: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recommendation_id: Mapped[str | None] = mapped_column(String(64))
