"""Model versions: each training run's parameters, data snapshot, metrics and artifact, and which is active."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import tempfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from models import Event, ModelVersion, RecommendationCount
from models.base import utcnow
from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput, NotFound, Unavailable
from salesbot.recommender.artifact import Artifact

log = logging.getLogger("salesbot.recommender")
POPULAR = "popular"  # the version named in counts and ids when no model answered


def start(*, uow: UnitOfWork, params: dict[str, Any], status: str = "training") -> ModelVersion:
    """A new version row: `training` for a run starting here, `queued` for one any worker may take."""
    now = utcnow()
    version = ModelVersion(
        id="mv_" + secrets.token_hex(6), status=status, params=params, created_at=now, heartbeat_at=now
    )
    with uow:
        uow.session.add(version)
        uow.commit()
        return version


def claim(*, uow: UnitOfWork, stale_after: timedelta, version_id: str | None = None) -> ModelVersion | None:
    """A training job to run here: a queued one, or one whose run stopped beating (its process died).
    Atomic: of several processes asking at once, one gets each job."""
    now = utcnow()
    waiting = select(ModelVersion).where(
        or_(
            ModelVersion.status == "queued",
            (ModelVersion.status == "training") & (ModelVersion.heartbeat_at < now - stale_after),
        )
    )
    if version_id is not None:
        waiting = waiting.where(ModelVersion.id == version_id)
    with uow:
        for version in uow.session.scalars(waiting.order_by(ModelVersion.created_at).limit(5)):
            taken = uow.session.execute(
                update(ModelVersion)
                .where(
                    ModelVersion.id == version.id,
                    ModelVersion.status == version.status,
                    ModelVersion.heartbeat_at == version.heartbeat_at,
                )
                .values(status="training", heartbeat_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if taken:
                uow.commit()
                return uow.session.get(ModelVersion, version.id, populate_existing=True)
    return None


def beat(*, uow: UnitOfWork, version_id: str) -> None:
    """The run is alive: no other process takes its job over."""
    with uow:
        uow.session.execute(
            update(ModelVersion)
            .where(ModelVersion.id == version_id, ModelVersion.status == "training")
            .values(heartbeat_at=utcnow())
        )
        uow.commit()


def finish(
    *,
    uow: UnitOfWork,
    version_id: str,
    artifact: Artifact,
    data: dict,
    metrics: dict,
    artifacts: Path | None = None,
) -> ModelVersion:
    """Keep the trained version: its artifact in `artifacts` (a directory every API host shares, named by the
    content's sha256) or, without one, in the database."""
    blob = artifact.pack()
    digest = hashlib.sha256(blob).hexdigest()
    if artifacts is not None:
        _write_file(artifacts / f"{digest}.npz", blob)
    with uow:
        version = _get(uow, version_id)
        version.status, version.data, version.metrics, version.finished_at = "ready", data, metrics, utcnow()
        version.artifact, version.artifact_sha256 = (None if artifacts else blob), digest
        uow.commit()
        return version


def _write_file(path: Path, blob: bytes) -> None:
    """Written whole or not at all: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".part") as part:
        part.write(blob)
    os.replace(part.name, path)


def fail(*, uow: UnitOfWork, version_id: str, error: str) -> None:
    with uow:
        version = _get(uow, version_id)
        version.status, version.error, version.finished_at = "failed", error, utcnow()
        uow.commit()


def get(*, uow: UnitOfWork, version_id: str) -> ModelVersion:
    with uow:
        return _get(uow, version_id)


def describe(*, uow: Callable[[], UnitOfWork], version_id: str) -> dict[str, Any]:
    """A version's columns and its online figures, as `GET /v1/models/{id}` shows them."""
    version = get(uow=uow(), version_id=version_id)
    columns = {
        column.key: getattr(version, column.key)
        for column in ModelVersion.__table__.columns
        if column.key != "artifact"
    }
    return columns | {"online": online(uow=uow(), version_id=version_id)}


def get_all(*, uow: UnitOfWork, limit: int = 50) -> list[ModelVersion]:
    with uow:
        return list(uow.session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc()).limit(limit)))


def activate(*, uow: UnitOfWork, version_id: str) -> ModelVersion:
    """Serve this version from now on (promote a new one or roll back to an old one)."""
    with uow:
        version = _get(uow, version_id)
        if version.status != "ready":
            raise InvalidInput.for_field("model_id", f"{version_id} is {version.status}; only a ready model can serve")
        uow.session.execute(update(ModelVersion).where(ModelVersion.is_active).values(is_active=False))
        uow.session.flush()
        version.is_active, version.activated_at = True, utcnow()
        uow.commit()
        return version


def active_id(*, uow: UnitOfWork) -> str | None:
    with uow:
        return uow.session.scalar(select(ModelVersion.id).where(ModelVersion.is_active))


def recommendation_id(version_id: str | None, strategy: str) -> str:
    """Names the version and strategy it came from, so events that carry it can be credited to them."""
    return f"rec.{version_id or POPULAR}.{strategy}.{secrets.token_hex(8)}"


def record_served(*, uow: UnitOfWork, counts: dict[tuple[str | None, str], int], day: date) -> None:
    """Add to how many recommendation lists each version (None: no model) and strategy answered (kept in memory,
    written now and then): the day's count, which the KPIs and the version's online figures read. In one order,
    so that two processes writing at once wait for each other instead of deadlocking; a failure is logged, never
    raised: a count is not worth a shopper's failed request."""
    try:
        _record_served(uow, counts, day)
    except SQLAlchemyError:
        log.warning("could not record %s recommendation lists served; they go uncounted", sum(counts.values()),
                    exc_info=True)  # fmt: skip


def _record_served(uow: UnitOfWork, counts: dict[tuple[str | None, str], int], day: date) -> None:
    with uow:
        # Only the day's row: updating the version's own row would rewrite its artifact with it on SQLite (tens of
        # megabytes, a stall of 150-600 ms in the request that flushed the counts, every few seconds).
        for (version_id, strategy), served in sorted(counts.items(), key=lambda item: (item[0][0] or "", item[0][1])):
            _count_day(uow.session, day=day, version=version_id or POPULAR, strategy=strategy, served=served)
        uow.commit()


def _count_day(session: Session, *, day: date, version: str, strategy: str, served: int) -> None:
    """One upsert: every process adds its own counts to the same row."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row = {"day": day, "model_version": version, "strategy": strategy, "served": served}
    statement = insert(RecommendationCount).values(**row)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["day", "model_version", "strategy"],
            set_={"served": RecommendationCount.served + statement.excluded.served},
        )
    )


def online(*, uow: UnitOfWork, version_id: str) -> dict[str, float | int]:
    """How shoppers answered this version's recommendations: events sent back with its recommendation ids."""
    prefix = f"rec.{version_id}."
    query = (
        select(Event.type, func.count())
        .where(Event.recommendation_id >= prefix, Event.recommendation_id < prefix[:-1] + "/")
        .group_by(Event.type)
    )
    with uow:
        served = uow.session.scalar(
            select(func.coalesce(func.sum(RecommendationCount.served), 0)).where(
                RecommendationCount.model_version == version_id
            )
        )
        counts = dict(uow.session.execute(query).all())
    clicks, purchases = counts.get("click", 0), counts.get("purchase", 0)
    return {
        "served": served,
        "clicks": clicks,
        "add_to_cart": counts.get("add_to_cart", 0),
        "purchases": purchases,
        "ctr": clicks / served if served else 0.0,
        "conversion": purchases / served if served else 0.0,
    }


def load_artifact(*, uow: UnitOfWork, version_id: str, artifacts: Path | None = None) -> Artifact:
    """The version's artifact, from the database or from `artifacts`; a file whose content does not match the
    recorded sha256 is refused."""
    with uow:
        blob, digest = uow.session.execute(
            select(ModelVersion.artifact, ModelVersion.artifact_sha256).where(ModelVersion.id == version_id)
        ).one()
    if blob is None and digest and artifacts is not None and (artifacts / f"{digest}.npz").exists():
        blob = (artifacts / f"{digest}.npz").read_bytes()
    if blob is None:
        raise NotFound(f"model {version_id!r} has no artifact here (is SALESBOT_ARTIFACT_DIR the trainer's?)")
    if digest and hashlib.sha256(blob).hexdigest() != digest:
        raise Unavailable(f"model {version_id!r}: its artifact does not match its sha256; refusing to serve it")
    return Artifact.unpack(blob)


def _get(uow: UnitOfWork, version_id: str) -> ModelVersion:
    version = uow.session.get(ModelVersion, version_id)
    if version is None:
        raise NotFound(f"no model {version_id!r}")
    return version
