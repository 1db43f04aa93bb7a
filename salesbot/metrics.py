"""Operator metrics for Prometheus: the one home of `prometheus-client`, its metrics and the scrape's text.

Counters and histograms live in this process (or, under `salesbot serve`, in gunicorn's shared multiprocess
directory). Figures read from the database (the webhook queue, the active model) are read when scraped, never in
a request's path. Labels carry route templates, brains and class names only: no ids, no customer, no text.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from sqlalchemy.exc import SQLAlchemyError

from salesbot.errors import Unavailable

if TYPE_CHECKING:
    from salesbot.webhooks.deliveries import Queue

log = logging.getLogger("salesbot.metrics")
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
Frame = TypeVar("Frame")

REQUEST_SECONDS = Histogram(
    "salesbot_http_request_duration_seconds",
    "Time to answer an HTTP request (to the first byte for streams), by route template, method and status",
    ("route", "method", "status"),
)
TURNS = Counter(
    "salesbot_conversation_turns_total", "Conversation turns answered, by the brain that answered", ("brain",)
)
FALLBACKS = Counter(
    "salesbot_llm_fallbacks_total",
    "Turns the rules brain answered although the LLM is configured, by why: error, unsafe (the guard refused the "
    "LLM's decision) or budget (the conversation's tokens were spent)",
    ("reason",),
)
LLM_SECONDS = Histogram(
    "salesbot_llm_request_duration_seconds",
    "Time of one call to the LLM server (the SDK's retries included), by call: turn, summary or embeddings",
    ("call",),
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60),
)
LLM_ERRORS = Counter(
    "salesbot_llm_errors_total",
    "Calls to the LLM server that failed, by call and the SDK's error class",
    ("call", "error"),
)
STREAMS = Gauge(
    "salesbot_open_streams",
    "Server-Sent Events streams open now, by kind (inbox, conversation)",
    ("stream",),
    multiprocess_mode="livesum",
)


def request_served(*, route: str, method: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(route, method, str(status)).observe(seconds)


def turn_answered(brain: str) -> None:
    TURNS.labels(brain).inc()


def fell_back(reason: str) -> None:
    FALLBACKS.labels(reason).inc()


@contextmanager
def llm_call(call: str) -> Iterator[None]:
    """Time one call to the LLM server and count its failure by exception class (the exception goes on)."""
    started = time.perf_counter()
    try:
        yield
    except Exception as failure:
        LLM_ERRORS.labels(call, type(failure).__name__).inc()
        raise
    finally:
        LLM_SECONDS.labels(call).observe(time.perf_counter() - started)


def open_stream(frames: Iterable[Frame], *, kind: str) -> Iterator[Frame]:
    """`frames`, counted as an open stream from the first frame until the stream ends or the client leaves."""
    with STREAMS.labels(kind).track_inprogress():
        yield from frames


@dataclass(frozen=True)
class Database:
    """Figures read from the database at scrape time: the webhook queue and the active model version."""

    queue: Callable[[], Queue]
    active_model: Callable[[], str | None]

    def collect(self) -> Iterator[Metric]:
        try:
            queue, active = self.queue(), self.active_model()
        except (SQLAlchemyError, Unavailable) as failure:
            log.warning("metrics: the database did not answer (%s)", type(failure).__name__)
            yield GaugeMetricFamily("salesbot_database_up", "Whether the database answered this scrape", value=0)
            return
        yield GaugeMetricFamily("salesbot_database_up", "Whether the database answered this scrape", value=1)
        depth = GaugeMetricFamily(
            "salesbot_webhook_deliveries",
            "Webhook deliveries waiting to be made (pending or being delivered) and given up on (failed)",
            labels=("state",),
        )
        depth.add_metric(("waiting",), queue.waiting)
        depth.add_metric(("failed",), queue.failed)
        yield depth
        yield GaugeMetricFamily(
            "salesbot_webhook_lag_seconds",
            "How long the oldest delivery due now (to an enabled endpoint) has been waiting; 0 when none is due",
            value=queue.lag_seconds,
        )
        if active is not None:
            yield InfoMetricFamily(
                "salesbot_active_model", "The recommendation model version being served", value={"version_id": active}
            )


class _ThisProcess:
    """The default registry's metrics (single process: tests, `flask run`)."""

    def collect(self) -> Iterator[Metric]:
        return REGISTRY.collect()


def exposition(database: Database) -> bytes:
    """The scrape's text: every worker's metrics when gunicorn shares a multiprocess directory, else this
    process's; then the database's figures."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(database)
    return generate_latest(registry)


def worker_gone(pid: int) -> None:
    """Forget a dead worker's live gauges (its open streams); its counters stay in the sums."""
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.mark_process_dead(pid)
