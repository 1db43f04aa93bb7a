"""The `retrain` job: queue a recommender retraining when one is due (the worker's training loop trains it and serves
it only if its held-out NDCG@10 is not worse than the active version's), and record on the run that queued it what
became of it: activated, kept out, or failed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from models import ModelVersion
from salesbot.config import Settings
from salesbot.database import UnitOfWork
from salesbot.recommender import schedule
from salesbot.upkeep import runs
from salesbot.upkeep.runs import Done

JOB = "retrain"
# The activation decision follows the end of training within moments; a version ready this long without being
# activated was kept out.
DECIDED_AFTER = timedelta(minutes=2)


def run(*, new_uow: Callable[[], UnitOfWork], settings: Settings, now: datetime) -> Done:
    settled = settle(new_uow=new_uow, now=now)
    version = schedule.retrain_if_due(uow=new_uow, settings=settings, now=now)
    if version is None:
        return Done(summary="; ".join(["not due", *settled]), details={"settled": settled}, skipped=True)
    reason = (version.params or {}).get("reason", "")
    said = "; ".join([f"queued retraining {version.id}: {reason}", *settled])
    return Done(summary=said, details={"queued": version.id, "reason": reason, "settled": settled})


def settle(*, new_uow: Callable[[], UnitOfWork], now: datetime) -> list[str]:
    """What became of the retrainings queued by earlier runs that have an answer now, each written on its run."""
    said = []
    for queued in runs.history(uow=new_uow(), job=JOB, outcome="ok", limit=runs.KEEP):
        version_id = queued.details.get("queued")
        if not version_id or "result" in queued.details:
            continue
        result = _result(new_uow, version_id, now)
        if result is not None:
            runs.annotate(uow=new_uow(), run_id=queued.id, summary=f"{queued.summary}; {result}",
                          details=queued.details | {"result": result})  # fmt: skip
            said.append(f"{version_id} {result}")
    return said


def _result(new_uow: Callable[[], UnitOfWork], version_id: str, now: datetime) -> str | None:
    """How the version's run ended, or None while it is still queued, training or awaiting its activation."""
    with new_uow() as uow:
        version = uow.session.get(ModelVersion, version_id)
        active = uow.session.scalars(select(ModelVersion).where(ModelVersion.is_active)).first()
    if version is None:
        return "was deleted"
    if version.status == "failed":
        return f"failed: {(version.error or '')[:300]}"
    if version.status in ("queued", "training"):
        return None
    if version.activated_at is not None:
        return f"trained and activated (NDCG@10 {_ndcg(version)})"
    if version.finished_at is None or now - version.finished_at < DECIDED_AFTER:
        return None
    better = f"{active.id}'s {_ndcg(active)}" if active is not None else "the active version's"
    return f"trained, not activated: NDCG@10 {_ndcg(version)} is below {better}"


def _ndcg(version: ModelVersion) -> str:
    value = (version.metrics or {}).get("model", {}).get("ndcg@10")
    return "unmeasured" if value is None else f"{value:.4f}"
