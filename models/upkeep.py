"""The worker's scheduled jobs: each run with its outcome and what it did, and one lease row per job that lets a
single worker at a time run it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONDocument, UTCDateTime
from models.conversation import SERIAL


class JobRun(Base):
    """One run of a scheduled job: `running` until it ends `ok`, `failed` (with the error) or `skipped` (why)."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_outcome_id", "job", "outcome", "id"),)

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True)
    job: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16))  # running, ok, failed, skipped
    summary: Mapped[str | None] = mapped_column(Text)  # what it did, in a line: "pruned 3 artifacts"
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)  # the same, for programs
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str] = mapped_column(String(200))  # host and process that ran it


class JobLease(Base):
    """Who runs a job now and until when, and when it last started: claimed by one conditional UPDATE, so of several
    workers asking at once exactly one gets it."""

    __tablename__ = "job_leases"

    job: Mapped[str] = mapped_column(String(32), primary_key=True)
    held_by: Mapped[str | None] = mapped_column(String(200))
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column(SERIAL)  # the run holding it
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the next run is due a period later
