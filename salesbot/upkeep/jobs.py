"""The worker's scheduled jobs: each one's name, what it does, how often it runs (from the settings where an operator
would change it) and the work itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from salesbot.config import Settings
from salesbot.conversation.embeddings import Embedder
from salesbot.conversation.faqs import Library
from salesbot.database import UnitOfWork
from salesbot.offers import results
from salesbot.recommender import schedule
from salesbot.upkeep import gaps, reembedding, retraining
from salesbot.upkeep.runs import Done

GAPS_LOOK_BACK = timedelta(days=30)
GAPS_KEPT = 10  # groups a run keeps in its record


@dataclass(frozen=True)
class Kit:
    """What a job may use: new transactions, the settings, the embedding model and the FAQ library."""

    new_uow: Callable[[], UnitOfWork]
    settings: Settings
    embedder: Embedder | None = None
    library: Library | None = None


@dataclass(frozen=True)
class Job:
    name: str
    does: str
    every: timedelta | None  # None: only when asked (`off` says why)
    lease: timedelta  # the longest a run may take before another worker may start one
    work: Callable[[Kit, datetime], Done]
    off: str | None = None
    slow: bool = False  # runs on its own thread, so that it never holds up the quick jobs (the guardrails)


def catalogue(settings: Settings) -> dict[str, Job]:
    """Every job, by name, as `settings` schedule them."""
    retraining_on = settings.retrain_after_events or settings.retrain_every_hours
    jobs = (
        Job(retraining.JOB, "Queue a recommender retraining when enough new events arrived or the period passed; "
            "record whether the trained version was activated", _every(minutes=1 if retraining_on else 0),
            timedelta(minutes=10), _retrain,
            off="SALESBOT_RETRAIN_AFTER_EVENTS and SALESBOT_RETRAIN_EVERY_HOURS are 0"),
        Job("prune-models", "Drop the artifacts of model versions older than the newest SALESBOT_KEEP_MODEL_VERSIONS",
            _every(minutes=10), timedelta(minutes=10), _prune),
        Job("guardrails", "Stop experiment arms whose guardrail metric went bad", _every(minutes=1),
            timedelta(minutes=10), _guard),
        Job("reembed", "Embed FAQs and catalog items whose text changed since their vectors were made",
            _every(minutes=settings.reembed_every_minutes), timedelta(hours=1), _reembed,
            off="SALESBOT_REEMBED_EVERY_MINUTES is 0", slow=True),
        Job("faq-gaps", "Group the last 30 days' visitor questions the bot could not answer",
            _every(hours=settings.faq_gaps_every_hours), timedelta(hours=1), _faq_gaps,
            off="SALESBOT_FAQ_GAPS_EVERY_HOURS is 0", slow=True),
    )  # fmt: skip
    return {job.name: job for job in jobs}


def _every(**period: float) -> timedelta | None:
    return timedelta(**period) or None


def _retrain(kit: Kit, now: datetime) -> Done:
    return retraining.run(new_uow=kit.new_uow, settings=kit.settings, now=now)


def _prune(kit: Kit, _now: datetime) -> Done:
    keep = kit.settings.keep_model_versions
    gone = schedule.prune(uow=kit.new_uow(), keep=keep, artifacts=kit.settings.artifacts)
    if not gone:
        return Done(f"nothing to prune (artifacts of the newest {keep} versions and the active one are kept)")
    return Done(f"pruned {len(gone)} model artifacts: {', '.join(gone)}", {"pruned": gone})


def _guard(kit: Kit, _now: datetime) -> Done:
    stopped = results.guard_all(uow=kit.new_uow())
    return Done(f"stopped {', '.join(stopped)}" if stopped else "no arm stopped", {"stopped": stopped})


def _reembed(kit: Kit, _now: datetime) -> Done:
    return reembedding.run(new_uow=kit.new_uow, embedder=kit.embedder)


def _faq_gaps(kit: Kit, now: datetime) -> Done:
    answers = gaps.answered_by(kit.library, min_match=kit.settings.faq_min_match) if kit.library else None
    found = gaps.report(uow=kit.new_uow(), start=now - GAPS_LOOK_BACK, end=now, embedder=kit.embedder,
                        answers=answers, limit=GAPS_KEPT)  # fmt: skip
    kept = [_plain(group) for group in found["groups"]]
    details = {"questions": found["questions"], "groups": found["group_count"], "grouped_by": found["grouped_by"],
               "top": kept}  # fmt: skip
    if not kept:
        return Done("no unanswered questions in the last 30 days", details)
    top = kept[0]
    return Done(f"found {found['group_count']:,} unanswered question groups ({found['questions']:,} questions) in "
                f"the last 30 days; most asked: \"{top['question']}\" ({top['count']})", details)  # fmt: skip


def _plain(group: dict[str, Any]) -> dict[str, Any]:
    """A group as JSON keeps it (times as ISO 8601)."""
    return {name: value.isoformat() if isinstance(value, datetime) else value for name, value in group.items()}
