"""The chores `salesbot worker` runs every few seconds besides webhooks and training: offering waiting hand-offs to
reps (and taking back offers nobody accepted), the guardrail breakers of running experiments, and, every minute,
queueing a retraining of the recommender when one is due and pruning old models' artifacts."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from salesbot.config import Settings
from salesbot.database import UnitOfWork
from salesbot.inbox import handoffs
from salesbot.offers import results
from salesbot.recommender import schedule

log = logging.getLogger(__name__)
ROUTE_EVERY = 5.0
GUARD_EVERY = 60.0


def keep_up(stop: threading.Event, *, uow: Callable[[], UnitOfWork], settings: Settings) -> None:
    guarded_at = -GUARD_EVERY
    while not stop.is_set():
        try:
            handoffs.route(uow=uow(), settings=settings, now=datetime.now(UTC))
            if time.monotonic() - guarded_at >= GUARD_EVERY:
                results.guard_all(uow=uow())
                models(uow=uow, settings=settings)
                guarded_at = time.monotonic()
        except Exception:  # a chore that fails is tried again next round; the worker keeps delivering
            log.exception("upkeep failed; trying again in %s s", ROUTE_EVERY)
        stop.wait(ROUTE_EVERY)


def models(*, uow: Callable[[], UnitOfWork], settings: Settings) -> None:
    """A retraining when one is due (the worker's training loop runs it), and old artifacts pruned."""
    schedule.retrain_if_due(uow=uow, settings=settings, now=datetime.now(UTC))
    schedule.prune(uow=uow(), keep=settings.keep_model_versions, artifacts=settings.artifacts)
