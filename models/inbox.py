"""The rep side: reps (people who take over conversations) and every change of who speaks in a conversation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONDocument, UTCDateTime, utcnow
from models.conversation import SERIAL


class Rep(Base):
    """A sales rep: what they can take (teams, languages, categories, capacity) and whether they are there."""

    __tablename__ = "reps"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    teams: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    languages: Mapped[list[str]] = mapped_column(JSONDocument, default=list)  # ISO 639-1: en, de, ...
    categories: Mapped[list[str]] = mapped_column(JSONDocument, default=list)  # catalog categories they sell
    capacity: Mapped[int] = mapped_column(Integer, default=3)  # conversations at once
    presence: Mapped[str] = mapped_column(String(8), default="away")  # online, away
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # presence expires when the console goes quiet
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # for round robin
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HandoffChange(Base):
    """A conversation changed hands: from which state to which, to or from which rep, by whom, and why."""

    __tablename__ = "handoff_changes"
    __table_args__ = (Index("ix_handoff_changes_conversation_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    rep_id: Mapped[str | None] = mapped_column(String(32))
    changed_by: Mapped[str | None] = mapped_column(String(32))  # an API key id; None: the server itself
    reason: Mapped[str] = mapped_column(String(200), default="")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
