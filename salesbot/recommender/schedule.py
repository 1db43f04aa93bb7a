"""The recommender keeping itself fresh: a new training run once enough new events arrived or a period passed since
the newest version (one run at a time, served only if it beats the active one), and old versions' artifacts pruned
so that only the newest few can be rolled back to."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from models import Event, ModelVersion
from salesbot.config import Settings
from salesbot.database import UnitOfWork
from salesbot.recommender import pipeline, versions

log = logging.getLogger("salesbot.recommender")
BUSY = ("queued", "training")
IF_BETTER = "if-better"


def due(*, uow: UnitOfWork, settings: Settings, now: datetime) -> str | None:
    """Why a retraining is due now, or None: never while a run is queued or training."""
    if not (settings.retrain_after_events or settings.retrain_every_hours):
        return None
    with uow:
        session = uow.session
        if session.scalar(select(func.count()).where(ModelVersion.status.in_(BUSY))):
            return None
        newest = session.scalars(
            select(ModelVersion).where(ModelVersion.status == "ready").order_by(ModelVersion.created_at.desc())
        ).first()
        events = session.scalar(select(func.count()).select_from(Event)) or 0
    if newest is None:
        return "no model yet" if events else None
    fresh = events - int((newest.data or {}).get("events", 0))
    if settings.retrain_after_events and fresh >= settings.retrain_after_events:
        return f"{fresh} new events since {newest.id}"
    if settings.retrain_every_hours and now - newest.created_at >= timedelta(hours=settings.retrain_every_hours):
        return f"{settings.retrain_every_hours:g} h since {newest.id}"
    return None


def retrain_if_due(*, uow: Callable[[], UnitOfWork], settings: Settings, now: datetime) -> ModelVersion | None:
    """Queue a run when one is due, with the active version's plan (the kind and settings a store trained or tuned
    it with; the defaults without one); the worker's training loop runs it and activates it only if not worse."""
    reason = due(uow=uow(), settings=settings, now=now)
    if reason is None:
        return None
    active = versions.active_id(uow=uow())
    plan = pipeline.plan_of(versions.get(uow=uow(), version_id=active)) if active else pipeline.Plan()
    version = pipeline.start(uow=uow, plan=plan, queued=True, activation=IF_BETTER, reason=reason)
    log.info("retraining queued as %s: %s", version.id, reason)
    return version


def prune(*, uow: UnitOfWork, keep: int, artifacts: Path | None) -> list[str]:
    """Drop the artifacts of ready versions older than the newest `keep` (never the active one); their rows stay,
    as `pruned`, with their metrics. A file another kept version shares is left in place."""
    with uow:
        ready = list(uow.session.scalars(
            select(ModelVersion).where(ModelVersion.status == "ready").order_by(ModelVersion.created_at.desc())
        ))  # fmt: skip
        kept = {version.artifact_sha256 for version in ready[:keep]} | {v.artifact_sha256 for v in ready if v.is_active}
        pruned = [version for version in ready[keep:] if not version.is_active]
        for version in pruned:
            version.status, version.artifact = "pruned", None
        uow.commit()
        gone = [(version.id, version.artifact_sha256) for version in pruned]
    for _id, digest in gone:
        path = artifacts / f"{digest}.npz" if artifacts is not None and digest else None
        if path is not None and digest not in kept and path.exists():
            path.unlink()
    return [version_id for version_id, _digest in gone]
