"""The chat widget: proactive triggers a marketer sets, which open a nudge on a store's page when they fire."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class Trigger(Base):
    """A rule that opens the chat with a message: after time on the page, on exit intent, from a cart total or on a
    category's pages; shown at most `max_shows` times per visitor, `hours_between` apart."""

    __tablename__ = "widget_triggers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))  # time_on_page, exit_intent, cart_value, viewed_category
    seconds: Mapped[int | None] = mapped_column(Integer)  # time_on_page only
    amount: Mapped[float | None] = mapped_column(Float)  # cart_value only: fires at a cart total of at least this
    category: Mapped[str | None] = mapped_column(String(200))  # viewed_category only
    message: Mapped[str] = mapped_column(String(500))
    max_shows: Mapped[int] = mapped_column(Integer, default=1)  # per visitor, in all
    hours_between: Mapped[int] = mapped_column(Integer, default=24)  # before the same visitor sees it again
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher first when several fire
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
