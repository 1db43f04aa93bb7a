"""Conversations with visitors, their messages, and the store's FAQ knowledge (leads live in `models.leads`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONDocument, UTCDateTime, utcnow
from models.catalog import EXTERNAL_ID

SERIAL = BigInteger().with_variant(Integer, "sqlite")


class QualificationSchema(Base):
    """What the bot asks and how a lead is scored; every change is a new version, never an edit."""

    __tablename__ = "qualification_schemas"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(32))  # API key id


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_status_updated_at", "status", "updated_at"),
        Index("ix_conversations_created_at", "created_at"),  # KPIs read conversations started in a window
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(EXTERNAL_ID, index=True)
    visitor_id: Mapped[str | None] = mapped_column(EXTERNAL_ID)
    channel: Mapped[str] = mapped_column(String(32))
    page: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)  # e.g. {"item_ids": [...]}
    schema_version: Mapped[int] = mapped_column(ForeignKey("qualification_schemas.version"))
    status: Mapped[str] = mapped_column(String(16))  # open, awaiting_human, closed
    handoff_reason: Mapped[str | None] = mapped_column(String(200))
    asked: Mapped[str | None] = mapped_column(String(64))  # the field the bot asked for last
    misunderstood: Mapped[int] = mapped_column(SmallInteger, default=0)  # turns in a row
    tokens_used: Mapped[int] = mapped_column(Integer, default=0)
    # Offers shown so far, oldest first (an experiment control's nothing as null), read with the conversation.
    offers_shown: Mapped[list[str | None] | None] = mapped_column(JSONDocument)
    # Who speaks: the bot, or a person after a hand-off (bot -> queued -> assigned -> live -> resolved, or back).
    handoff_state: Mapped[str] = mapped_column(String(16), default="bot", server_default="bot")
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # queued since; the queue's order
    rep_id: Mapped[str | None] = mapped_column(String(32), index=True)  # the rep offered it or holding it
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it was offered to `rep_id`
    last_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # the newest message's seq
    handoff_summary: Mapped[list[str] | None] = mapped_column(JSONDocument)  # the LLM's briefing for the rep
    # sha256 of the token a site key must show; NULL (started before tokens) lets only the store's own keys in
    token_hash: Mapped[str | None] = mapped_column(String(64))
    csat: Mapped[int | None] = mapped_column(SmallInteger)
    csat_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Message(Base):
    """One line of the transcript; the bot's lines carry how the turn was decided and what it cost."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        UniqueConstraint("conversation_id", "seq"),
    )

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int | None] = mapped_column(Integer)  # 1, 2, 3... per conversation: what streams resume from
    author: Mapped[str] = mapped_column(String(8))  # visitor, bot, rep, system
    rep_id: Mapped[str | None] = mapped_column(String(32))  # the rep who wrote it
    text: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    brain: Mapped[str | None] = mapped_column(String(16))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Faq(Base):
    __tablename__ = "faqs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class FaqVector(Base):
    """What an FAQ means, as the embedding model saw it: computed once when the FAQ changes, read by every process."""

    __tablename__ = "faq_vectors"

    faq_id: Mapped[str] = mapped_column(ForeignKey("faqs.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    text_sha256: Mapped[str] = mapped_column(String(64))  # of the text embedded: a changed FAQ is embedded again
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian, unit length
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ItemVector(Base):
    """What a catalog item is (title, category, description) as the embedding model saw it; kept per model."""

    __tablename__ = "item_vectors"

    item_id: Mapped[str] = mapped_column(ForeignKey("items.item_id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    text_sha256: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
