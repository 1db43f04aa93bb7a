"""Staff feedback on the bot's lines: a rating (up or down, with a reason) and the reply the bot should have given."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow
from models.conversation import SERIAL


class MessageFeedback(Base):
    """One key's feedback on one bot line; giving it again replaces it."""

    __tablename__ = "message_feedback"
    __table_args__ = (UniqueConstraint("conversation_id", "seq", "given_by"),)

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # the rated bot line's seq
    given_by: Mapped[str] = mapped_column(String(32))  # the API key id
    rep_id: Mapped[str | None] = mapped_column(String(32))  # the rep, when a rep's key gave it
    role: Mapped[str] = mapped_column(String(16))  # rep, marketer, admin
    rating: Mapped[int | None] = mapped_column(SmallInteger)  # +1 up, -1 down; None: only a correction
    reason: Mapped[str | None] = mapped_column(String(32))  # one of salesbot.feedback's reasons
    comment: Mapped[str | None] = mapped_column(Text)
    correction: Mapped[str | None] = mapped_column(Text)  # the reply the bot should have given
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
