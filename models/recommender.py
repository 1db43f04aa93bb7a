"""Trained recommendation models: one row per version, its metrics and its artifact."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from models.base import Base, JSONDocument, UTCDateTime, utcnow


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        # At most one active version, enforced by the database itself.
        Index(
            "uq_model_versions_one_active",
            "is_active",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # queued, training, ready, failed
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    artifact: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a training run's last sign of life
    # No longer written: lists served are counted per day in recommendation_counts (since migration 0013).
    served: Mapped[int] = mapped_column(BigInteger, default=0)
