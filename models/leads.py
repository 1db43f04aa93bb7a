"""Leads: what a conversation learnt about a buyer, its score, status, owner and notes, and every change to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONDocument, UTCDateTime, utcnow
from models.catalog import EXTERNAL_ID
from models.conversation import SERIAL


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (Index("ix_leads_status_updated_at", "status", "updated_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), unique=True)
    customer_id: Mapped[str | None] = mapped_column(EXTERNAL_ID)
    # new, qualifying, qualified, disqualified, nurture, handed_off; reps close it as won or lost
    status: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    score_breakdown: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    fields: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    owner: Mapped[str | None] = mapped_column(String(32), index=True)  # the rep who owns it
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LeadChange(Base):
    """A lead's status history: CRM delivery hangs off these rows, written in the same transaction."""

    __tablename__ = "lead_changes"

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(200))
    changed_by: Mapped[str | None] = mapped_column(String(32))  # the API key, when a person changed it
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)  # owner, notes: before and after
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
