"""API keys: stored as a SHA-256 hash, shown in plain text only once when created.

A `site` key also has an identity secret, kept as it is: the server needs it to check the HMACs a store's back end
computes of its customers' ids (see "Public keys and privacy" in the README).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    identity_secret: Mapped[str | None] = mapped_column(String(64))  # hex; site keys only
    rep_id: Mapped[str | None] = mapped_column(String(32))  # rep keys: the rep they belong to
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
