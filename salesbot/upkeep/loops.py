"""The worker's upkeep threads: waiting hand-offs offered to reps every few seconds, and the scheduled jobs run when
due; a round that fails is logged and tried again, and the worker goes on delivering."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from salesbot.config import Settings
from salesbot.database import UnitOfWork
from salesbot.inbox import handoffs
from salesbot.upkeep import running
from salesbot.upkeep.jobs import Kit

log = logging.getLogger(__name__)
ROUTE_EVERY = 5.0
LOOK_EVERY = 5.0  # how often a worker looks for a job whose period passed


def route_handoffs(
    stop: threading.Event, *, new_uow: Callable[[], UnitOfWork], settings: Settings, every: float = ROUTE_EVERY
) -> None:
    """Offer waiting conversations to reps (and take back offers nobody accepted), until `stop`."""
    while not stop.is_set():
        try:
            handoffs.route(uow=new_uow(), settings=settings, now=datetime.now(UTC))
        except Exception:  # tried again next round
            log.exception("routing hand-offs failed; trying again in %s s", every)
        stop.wait(every)


def run_jobs(stop: threading.Event, *, kit: Kit, every: float = LOOK_EVERY, slow: bool | None = None) -> None:
    """Run each scheduled job (or only the slow or the quick ones) when its period passed, until `stop`."""
    while not stop.is_set():
        try:
            running.run_due(kit=kit, now=datetime.now(UTC), slow=slow)
        except Exception:  # the database was away: the jobs' own failures are recorded on their runs
            log.exception("scheduled jobs could not run; trying again in %s s", every)
        stop.wait(every)
