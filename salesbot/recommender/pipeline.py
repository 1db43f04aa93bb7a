"""Training a model version end to end: read the store, evaluate on a time split, fit on everything, keep it."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from models import ModelVersion
from models.base import utcnow
from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput
from salesbot.recommender import blend, evaluation, versions
from salesbot.recommender.artifact import Artifact
from salesbot.recommender.dataset import Interactions, Store, build, price_edges, read_store, weigh
from salesbot.recommender.training import Params, fit

__all__ = ["Params", "Plan", "activate_if_better", "start", "train"]

log = logging.getLogger("salesbot.recommender")
Progress = Callable[[str, int, int], None]  # (phase, done, total)
SHORTLIST = 128  # items kept per customer for serving without scoring the whole catalog
HOLDOUT_SHARE = 0.2
BEAT_EVERY = 10.0  # seconds between a training run's heartbeats
STALE_AFTER = timedelta(minutes=10)  # a run silent this long died; another process takes its job


@dataclass(frozen=True)
class Plan:
    params: Params = field(default_factory=Params)  # LightFM's
    blend: blend.Params = field(default_factory=blend.Params)  # the model kind, and how its parts add up
    weights: Mapping[str, float] | None = None
    half_life_days: float | None = None
    cutoff: datetime | None = None  # default: the moment 80% of events had happened
    new_items_only: bool = True
    k: int = 10
    evaluate: bool = True  # False: no hold-out model (about half the time), and no metrics to compare


def start(
    *, uow: Callable[[], UnitOfWork], plan: Plan, queued: bool = False, activation: str | None = None,
    reason: str | None = None,
) -> ModelVersion:  # fmt: skip
    """The version row a training run fills in, made first so that callers can answer with its id; `queued`
    leaves the run to whichever process claims it (the API's background thread or a worker), which activates it
    afterwards when `activation` is "if-better" and it beats the active version."""
    params = plan.params.as_dict() | {"half_life_days": plan.half_life_days, "blend": plan.blend.as_dict()}
    params |= {name: value for name, value in (("activation", activation), ("reason", reason)) if value}
    return versions.start(uow=uow(), params=params, status="queued" if queued else "training")


def plan_of(version: ModelVersion) -> Plan:
    """The plan a queued version was made with (its params)."""
    params = dict(version.params)
    half_life_days = params.pop("half_life_days", None)
    mixed = blend.Params(**params.pop("blend")) if "blend" in params else blend.Params()
    known = {name: value for name, value in params.items() if name in Params.__dataclass_fields__}
    return Plan(params=Params(**known), blend=mixed, half_life_days=half_life_days)


def run_job(
    *, uow: Callable[[], UnitOfWork], version: ModelVersion, weights: Mapping[str, float], artifacts: Path | None
) -> ModelVersion:
    """Train a claimed version, beating at least every BEAT_EVERY seconds so no other process takes it over."""
    last = [time.monotonic()]

    def alive(_phase: str, _done: int, _total: int) -> None:
        if time.monotonic() - last[0] >= BEAT_EVERY:
            versions.beat(uow=uow(), version_id=version.id)
            last[0] = time.monotonic()

    plan = plan_of(version)
    return train(uow=uow, plan=plan, weights=weights, on_progress=alive, version=version, artifacts=artifacts)


def take_jobs(
    stop: threading.Event,
    *,
    uow: Callable[[], UnitOfWork],
    weights: Mapping[str, float],
    artifacts: Path | None,
    every: float = 5.0,
) -> None:
    """A worker's training loop: run queued jobs, and those whose process died, one at a time, until `stop`."""
    while not stop.is_set():
        version = versions.claim(uow=uow(), stale_after=STALE_AFTER)
        if version is None:
            stop.wait(every)
            continue
        log.info("training %s (claimed by this worker)", version.id)
        with contextlib.suppress(Exception):  # a failure is recorded on the version and logged by train()
            trained = run_job(uow=uow, version=version, weights=weights, artifacts=artifacts)
            if (version.params or {}).get("activation") == "if-better":
                served = activate_if_better(uow=uow, version=trained)
                log.info("%s %s", trained.id, "now serves" if served else "is not better; the active version stays")


def train(
    *,
    uow: Callable[[], UnitOfWork],
    plan: Plan,
    weights: Mapping[str, float],
    on_progress: Progress = lambda phase, done, total: None,
    version: ModelVersion | None = None,
    artifacts: Path | None = None,
) -> ModelVersion:
    """Train, evaluate and store a new version (not activated). A failure is recorded on the version."""
    plan = replace(plan, weights=plan.weights or weights)
    version = version or start(uow=uow, plan=plan)
    try:
        with uow() as work:
            store = read_store(work.session.connection())
        if store.events.empty:
            raise InvalidInput.for_field("events", "there are no events with a customer to learn from yet")
        now = utcnow()
        report = (
            evaluate(store, plan, now=now, on_progress=on_progress)
            if plan.evaluate
            else {"k": plan.k, "note": "trained without a hold-out (--skip-evaluation)"}
        )
        everything = build(
            store,
            plan.weights,
            now=now,
            half_life_days=plan.half_life_days,
            customer_feature_share=plan.params.customer_feature_share,
        )
        embeddings = fit(everything, plan.params, on_epoch=_epochs("final model", plan, on_progress))
        mixed = blend.fit(store, everything, embeddings, plan.blend, plan.weights, now=now,
                          on_step=lambda step: on_progress(f"item-to-item: {step}", 1, 1))  # fmt: skip
        shortlists = evaluation.shortlists(
            embeddings, SHORTLIST, on_block=lambda done: on_progress("shortlists", done, len(everything.customer_ids))
        )
        artifact = Artifact(
            item_ids=everything.item_ids,
            customer_ids=everything.customer_ids,
            customer_feature_names=np.array(everything.customer_features.names),
            popularity=_popularity(everything),
            embeddings=embeddings,
            shortlists=shortlists,
            blend=blend.Config(params=plan.blend, event_weights=dict(plan.weights)).dumps(),
            item_to_item=mixed.item_to_item,
            trend=mixed.trend,
            item_feature_names=np.array(everything.item_features.names),
            price_edges=price_edges(store.items.price),
        )
        return versions.finish(
            uow=uow(),
            version_id=version.id,
            artifact=artifact,
            data=_snapshot(store, everything),
            metrics=report,
            artifacts=artifacts,
        )
    except Exception as exc:
        log.exception("training %s failed", version.id)
        versions.fail(uow=uow(), version_id=version.id, error=f"{type(exc).__name__}: {exc}")
        raise


def evaluate(store: Store, plan: Plan, *, now: datetime, on_progress: Progress) -> dict:
    """Metrics at k for the model and for popularity, trained before the cut-off and tested after it."""
    cutoff = pd.Timestamp(plan.cutoff) if plan.cutoff else store.events.occurred_at.quantile(1 - HOLDOUT_SHARE)
    before = store.events[store.events.occurred_at < cutoff]
    after = store.events[(store.events.occurred_at >= cutoff) & (weigh(store.events, plan.weights, now=now) > 0)]
    if before.empty or after.empty:
        return {"k": plan.k, "note": "too little history to hold out a test period"}
    train_store = Store(events=before, items=store.items, customers=store.customers)
    train_set = build(
        train_store,
        plan.weights,
        now=cutoff.to_pydatetime(),
        half_life_days=plan.half_life_days,
        customer_feature_share=plan.params.customer_feature_share,
    )
    test = evaluation.holdout(train_set, after, new_items_only=plan.new_items_only)
    embeddings = fit(train_set, plan.params, on_epoch=_epochs("evaluation model", plan, on_progress))
    mixed = blend.fit(train_store, train_set, embeddings, plan.blend, plan.weights, now=cutoff.to_pydatetime())
    options = {"k": plan.k, "exclude_seen": plan.new_items_only}

    def scored(blocks: Iterator[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
        return evaluation.evaluate_scores(blocks, train_set, test, **options)

    report = {
        "k": plan.k,
        "cutoff": cutoff.isoformat(),
        "new_items_only": plan.new_items_only,
        "test_customers": len(test.rows),
        "kind": plan.blend.kind,
        "model": scored(blend.score_blocks(mixed, test.rows)),
        "popularity": scored(evaluation.popularity_blocks(train_set, test.rows)),
    }
    if plan.blend.kind != "lightfm":  # the parts alone, to see what the blend adds
        report["lightfm"] = scored(blend.score_blocks(replace(mixed, params=replace(plan.blend, kind="lightfm")),
                                                      test.rows))  # fmt: skip
    on_progress("scoring the hold-out", 1, 1)
    return report


def activate_if_better(*, uow: Callable[[], UnitOfWork], version: ModelVersion, k: int = 10) -> bool:
    """Activate `version` when its held-out NDCG@k is not worse than the active version's (or nothing is active)."""
    active = versions.active_id(uow=uow())
    if active is not None and _ndcg(versions.get(uow=uow(), version_id=active), k) > _ndcg(version, k):
        return False
    versions.activate(uow=uow(), version_id=version.id)
    return True


def _epochs(phase: str, plan: Plan, on_progress: Progress) -> Callable[[int], None]:
    return lambda epoch: on_progress(phase, epoch, plan.params.epochs)


def _ndcg(version: ModelVersion, k: int) -> float:
    return float((version.metrics or {}).get("model", {}).get(f"ndcg@{k}", -1.0))


def _popularity(interactions: Interactions) -> np.ndarray:
    return np.asarray((interactions.weights.tocsr() > 0).sum(axis=0), dtype=np.float32).ravel()


def _snapshot(store: Store, interactions: Interactions) -> dict:
    return {
        "events": len(store.events),
        "customers": len(interactions.customer_ids),
        "items": len(interactions.item_ids),
        "interactions": int(interactions.weights.nnz),
        "from": store.events.occurred_at.min().isoformat(),
        "until": store.events.occurred_at.max().isoformat(),
    }
