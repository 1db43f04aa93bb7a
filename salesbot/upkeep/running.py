"""Running the scheduled jobs: each when its period passed, or one now on demand, by one worker at a time, every run
recorded (a failure with its error, and the worker goes on); and where every job stands, for `salesbot jobs`,
`GET /v1/jobs` and the dashboard."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from models import JobLease, JobRun
from salesbot.config import Settings
from salesbot.database import UnitOfWork
from salesbot.errors import Conflict, InvalidInput
from salesbot.logs import mask
from salesbot.upkeep import runs
from salesbot.upkeep.jobs import Job, Kit, catalogue

log = logging.getLogger(__name__)


def run(job: Job, *, kit: Kit, now: datetime, scheduled: bool = True) -> JobRun | None:
    """Run `job` here, when due (`scheduled`) or now, unless another worker holds it (then None). What it did, or
    why it failed, is recorded; its exceptions never reach the caller."""
    started = runs.claim(new_uow=kit.new_uow, job=job.name, lease=job.lease, now=now,
                         every=job.every if scheduled else None)  # fmt: skip
    if started is None:
        return None
    try:
        done = job.work(kit, now)
    except Exception as failure:  # any job may fail in its own way; the next one still runs
        log.exception("job %s failed", job.name)
        error = mask(f"{type(failure).__name__}: {failure}")[:2000]
        return runs.finish(uow=kit.new_uow(), run=started, outcome="failed", now=_now(), error=error)
    outcome = "skipped" if done.skipped else "ok"
    log.info("job %s %s: %s", job.name, outcome, done.summary)
    return runs.finish(uow=kit.new_uow(), run=started, outcome=outcome, now=_now(), done=done)


def run_due(*, kit: Kit, now: datetime, slow: bool | None = None) -> list[JobRun]:
    """Every job whose period passed since it last started, one after another; only the slow or the quick ones
    when `slow` says which."""
    held = runs.leases(uow=kit.new_uow())
    ran = []
    for job in catalogue(kit.settings).values():
        if (slow is None or job.slow == slow) and _due(job, held.get(job.name), now):
            done = run(job, kit=kit, now=now)
            ran += [done] if done is not None else []
    return ran


def run_now(*, kit: Kit, name: str) -> JobRun:
    """Run the job called `name` now, whatever its period; refused while another worker runs it."""
    jobs = catalogue(kit.settings)
    if name not in jobs:
        raise InvalidInput.for_field("name", f"no job {name!r}; the jobs are {', '.join(jobs)}")
    done = run(jobs[name], kit=kit, now=_now(), scheduled=False)
    if done is None:
        lease = runs.leases(uow=kit.new_uow()).get(name)
        holder = f" ({lease.held_by}, since {lease.last_started_at:%Y-%m-%d %H:%M} UTC)" if lease else ""
        raise Conflict(f"{name} is running in another worker{holder}; try again when it ends")
    return done


def standing(*, uow: UnitOfWork, settings: Settings, now: datetime) -> list[dict[str, Any]]:
    """Each job with its period, whether it runs now, its last run, its last successful run, and when it is due."""
    held = runs.leases(uow=uow)
    rows = []
    for job in catalogue(settings).values():
        lease = held.get(job.name)
        last = runs.history(uow=uow, job=job.name, limit=1)
        last_ok = runs.history(uow=uow, job=job.name, outcome="ok", limit=1)
        rows.append({
            "name": job.name,
            "description": job.does,
            "every_seconds": job.every.total_seconds() if job.every else None,
            "off": job.off if job.every is None else None,
            "running": _held(lease, now),
            "last_run": described(last[0]) if last else None,
            "last_ok": described(last_ok[0]) if last_ok else None,
            "next_due_at": _next(job, lease, now),
        })  # fmt: skip
    return rows


def described(run: JobRun) -> dict[str, Any]:
    return {name: getattr(run, name) for name in
            ("id", "job", "started_at", "finished_at", "outcome", "summary", "details", "error", "worker")}  # fmt: skip


def _due(job: Job, lease: JobLease | None, now: datetime) -> bool:
    if job.every is None:
        return False
    if lease is None:
        return True
    return not _held(lease, now) and (lease.last_started_at is None or lease.last_started_at <= now - job.every)


def _held(lease: JobLease | None, now: datetime) -> bool:
    return lease is not None and lease.held_until is not None and lease.held_until >= now


def _next(job: Job, lease: JobLease | None, now: datetime) -> datetime | None:
    if job.every is None:
        return None
    if lease is None or lease.last_started_at is None:
        return now
    return max(now, lease.last_started_at + job.every)


def _now() -> datetime:
    return datetime.now(UTC)
