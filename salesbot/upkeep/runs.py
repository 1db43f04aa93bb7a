"""Runs of the worker's scheduled jobs: a job claimed by one worker at a time (one conditional UPDATE of its lease
row), each run recorded with its outcome and what it did, and a bounded history."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from models import JobLease, JobRun
from salesbot.database import UnitOfWork

KEEP = 50  # runs kept per job and outcome: a job skipped every minute never pushes its last real run out
WORKER = f"{socket.gethostname()}:{os.getpid()}"
ABANDONED = "the worker running it stopped before it finished (no result within its lease)"


@dataclass(frozen=True)
class Done:
    """What a run did: one line for people, the same for programs; `skipped` when there was nothing it could do."""

    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False


def claim(
    *, new_uow: Callable[[], UnitOfWork], job: str, lease: timedelta, now: datetime, every: timedelta | None,
    worker: str = WORKER,
) -> JobRun | None:  # fmt: skip
    """A new `running` run of `job` when no other worker holds it and, with `every`, it last started at least that
    long ago; None otherwise. Of several workers asking at once, exactly one gets it."""
    _lease_row(new_uow, job)
    free = or_(JobLease.held_until.is_(None), JobLease.held_until < now)
    due = true() if every is None else or_(JobLease.last_started_at.is_(None), JobLease.last_started_at <= now - every)
    with new_uow() as uow:
        taken = uow.session.execute(
            update(JobLease).where(JobLease.job == job, free, due)
            .values(held_by=worker, held_until=now + lease, last_started_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # fmt: skip
        if not taken:
            return None
        uow.session.execute(  # a run whose lease ran out is not coming back
            update(JobRun).where(JobRun.job == job, JobRun.outcome == "running")
            .values(outcome="failed", finished_at=now, error=ABANDONED)
        )  # fmt: skip
        run = JobRun(job=job, started_at=now, outcome="running", worker=worker, details={})
        uow.session.add(run)
        uow.session.flush()
        uow.session.execute(update(JobLease).where(JobLease.job == job).values(run_id=run.id))
        uow.commit()
        return run


def _lease_row(new_uow: Callable[[], UnitOfWork], job: str) -> None:
    """The job's lease row, made on its first run; in a transaction of its own, as a clash aborts it."""
    with new_uow() as uow:
        if uow.session.get(JobLease, job) is not None:
            return
        uow.session.add(JobLease(job=job))
        with contextlib.suppress(IntegrityError):  # another worker made it at the same moment
            uow.commit()


def finish(
    *, uow: UnitOfWork, run: JobRun, outcome: str, now: datetime, done: Done | None = None, error: str | None = None
) -> JobRun:
    """Record how the run ended, free its job for the next run, and drop the oldest runs past `KEEP`."""
    with uow:
        ended = uow.session.get(JobRun, run.id)
        if ended is None:  # pruned meanwhile by a run far later: nothing left to record on
            return run
        ended.outcome, ended.finished_at, ended.error = outcome, now, error
        if done is not None:
            ended.summary, ended.details = done.summary, done.details
        uow.session.execute(
            update(JobLease).where(JobLease.job == run.job, JobLease.run_id == run.id)
            .values(held_by=None, held_until=None)
        )  # fmt: skip
        _prune(uow, run.job, outcome)
        uow.commit()
        return ended


def _prune(uow: UnitOfWork, job: str, outcome: str) -> None:
    oldest_kept = (
        select(JobRun.id).where(JobRun.job == job, JobRun.outcome == outcome)
        .order_by(JobRun.id.desc()).offset(KEEP - 1).limit(1)
    )  # fmt: skip
    boundary = uow.session.scalar(oldest_kept)
    if boundary is not None:
        uow.session.execute(delete(JobRun).where(JobRun.job == job, JobRun.outcome == outcome, JobRun.id < boundary))


def annotate(*, uow: UnitOfWork, run_id: int, summary: str, details: dict[str, Any]) -> None:
    """Add what became of a run's work later (a queued retraining that finished) to its record."""
    with uow:
        uow.session.execute(update(JobRun).where(JobRun.id == run_id).values(summary=summary, details=details))
        uow.commit()


def leases(*, uow: UnitOfWork) -> dict[str, JobLease]:
    with uow:
        return {lease.job: lease for lease in uow.session.scalars(select(JobLease))}


def history(*, uow: UnitOfWork, job: str | None = None, outcome: str | None = None, limit: int = 20) -> list[JobRun]:
    """Runs, newest first."""
    query = select(JobRun)
    if job is not None:
        query = query.where(JobRun.job == job)
    if outcome is not None:
        query = query.where(JobRun.outcome == outcome)
    with uow:
        return list(uow.session.scalars(query.order_by(JobRun.id.desc()).limit(limit)))
