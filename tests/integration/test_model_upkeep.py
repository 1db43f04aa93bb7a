"""The recommender keeps itself fresh, on SQLite and PostgreSQL: a new week of events queues a retraining, the
worker's loop trains it and serves it only if its held-out NDCG beats the active model's, one run at a time; old
models' artifacts are pruned while their rows and metrics stay."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from models import ModelVersion
from salesbot.bootstrap import bootstrap
from salesbot.catalog import events
from salesbot.config import Settings
from salesbot.recommender import blend, pipeline, schedule, versions
from tests.integration.test_recommender import SMALL, stock

NOW = datetime(2025, 6, 10, tzinfo=UTC)


@pytest.fixture
def shop(database_url, tmp_path):
    services = bootstrap(Settings(database_url=database_url, retrain_after_events=50, artifact_dir=str(tmp_path)))
    stock(services)
    yield services
    services.close()


def served_first(shop) -> ModelVersion:
    first = pipeline.train(uow=shop.uow, plan=SMALL, weights=shop.settings.event_weights,
                           artifacts=shop.settings.artifacts)  # fmt: skip
    versions.activate(uow=shop.uow(), version_id=first.id)
    return first


def a_new_week(shop, count: int) -> None:
    """Tea lovers keep buying tea; makers keep buying tools."""
    rows = [
        {"customer_id": f"{prefix}-{n % 20}", "item_id": f"{cluster}-{(n * 7) % 10}", "type": "view",
         "occurred_at": f"2025-06-{1 + n % 7:02d}T12:00:00Z"}
        for n in range(count // 2) for prefix, cluster in (("a", "t"), ("b", "h"))
    ]  # fmt: skip
    events.record(uow=shop.uow(), events=rows, policy=shop.event_policy)


def test_nothing_is_due_until_enough_new_events_arrived(shop):
    first = served_first(shop)
    assert schedule.due(uow=shop.uow(), settings=shop.settings, now=NOW) is None
    a_new_week(shop, 20)
    assert schedule.due(uow=shop.uow(), settings=shop.settings, now=NOW) is None  # 20 < 50
    a_new_week(shop, 40)
    assert schedule.due(uow=shop.uow(), settings=shop.settings, now=NOW) == f"60 new events since {first.id}"
    off = replace(shop.settings, retrain_after_events=0)
    assert schedule.due(uow=shop.uow(), settings=off, now=NOW) is None  # not asked for: never
    hourly = replace(off, retrain_every_hours=24)
    later = first.created_at + timedelta(hours=25)
    assert schedule.due(uow=shop.uow(), settings=hourly, now=later) == f"24 h since {first.id}"


def test_a_new_week_is_trained_by_the_worker_and_served_only_if_better(shop):
    first = served_first(shop)
    a_new_week(shop, 200)
    queued = schedule.retrain_if_due(uow=shop.uow, settings=shop.settings, now=NOW)
    assert queued is not None
    assert queued.status == "queued"
    assert schedule.retrain_if_due(uow=shop.uow, settings=shop.settings, now=NOW) is None  # one run at a time

    trained = trained_by_the_worker(shop, queued)
    assert trained.status == "ready"
    assert trained.data["events"] > first.data["events"]  # the new week is in it
    not_worse = pipeline._ndcg(trained, 10) >= pipeline._ndcg(versions.get(uow=shop.uow(), version_id=first.id), 10)
    assert versions.active_id(uow=shop.uow()) == (trained.id if not_worse else first.id)


def test_a_week_that_breaks_the_model_is_trained_but_not_served(shop):
    first = served_first(shop)
    # A normal week, then on its last day tea lovers buy only tools and makers only tea. That day is the new
    # version's held-out period; trained on the days before it, it ranks that day's purchases low, so its NDCG is
    # worse than the active version's and the active version keeps serving.
    a_new_week(shop, 60)
    flipped = [
        {"customer_id": f"{prefix}-{n % 20}", "item_id": f"{cluster}-{(n * 3) % 10}", "type": "purchase",
         "occurred_at": "2025-06-09T12:00:00Z"}
        for n in range(45) for prefix, cluster in (("a", "h"), ("b", "t"))
    ]  # fmt: skip
    events.record(uow=shop.uow(), events=flipped, policy=shop.event_policy)
    queued = schedule.retrain_if_due(uow=shop.uow, settings=shop.settings, now=NOW)
    trained = trained_by_the_worker(shop, queued)
    assert trained.status == "ready"
    assert pipeline._ndcg(trained, 10) < pipeline._ndcg(first, 10)
    assert versions.active_id(uow=shop.uow()) == first.id


def trained_by_the_worker(shop, queued: ModelVersion) -> ModelVersion:
    """Run the worker's training loop until it has trained (and activated or not) the queued version."""
    stop = threading.Event()
    worker = threading.Thread(target=pipeline.take_jobs, args=(stop,), daemon=True,
                              kwargs={"uow": shop.uow, "weights": shop.settings.event_weights,
                                      "artifacts": shop.settings.artifacts, "every": 0.1})  # fmt: skip
    worker.start()
    try:
        for _ in range(600):
            trained = versions.get(uow=shop.uow(), version_id=queued.id)
            if trained.status in ("ready", "failed"):
                break
            stop.wait(0.1)
        stop.wait(0.5)  # the activation decision follows the training
    finally:
        stop.set()
        worker.join(timeout=30)
    return versions.get(uow=shop.uow(), version_id=queued.id)


def test_old_artifacts_are_pruned_but_the_active_and_the_newest_stay(shop, tmp_path):
    made = [pipeline.train(uow=shop.uow, plan=SMALL, weights=shop.settings.event_weights,
                           artifacts=shop.settings.artifacts) for _ in range(4)]  # fmt: skip
    versions.activate(uow=shop.uow(), version_id=made[0].id)  # an old one serves (a roll-back)
    pruned = schedule.prune(uow=shop.uow(), keep=2, artifacts=shop.settings.artifacts)
    assert pruned == [made[1].id]
    assert versions.get(uow=shop.uow(), version_id=made[1].id).status == "pruned"
    assert versions.get(uow=shop.uow(), version_id=made[1].id).metrics  # its figures stay
    for kept in (made[0], made[2], made[3]):
        assert versions.load_artifact(uow=shop.uow(), version_id=kept.id, artifacts=shop.settings.artifacts)
    files = {path.stem for path in tmp_path.glob("*.npz")}
    assert made[1].artifact_sha256 not in files or made[1].artifact_sha256 in {
        v.artifact_sha256 for v in (made[0], made[2], made[3])
    }
    with pytest.raises(Exception, match="only a ready model can serve"):
        versions.activate(uow=shop.uow(), version_id=made[1].id)


def test_a_scheduled_retraining_keeps_the_kind_and_settings_the_store_chose(shop):
    chosen = replace(SMALL, blend=blend.Params(kind="ease", ease_l2=500.0, ease_max_items=15))
    tuned = pipeline.train(uow=shop.uow, plan=chosen, weights=shop.settings.event_weights,
                           artifacts=shop.settings.artifacts)  # fmt: skip
    versions.activate(uow=shop.uow(), version_id=tuned.id)
    a_new_week(shop, 60)
    queued = schedule.retrain_if_due(uow=shop.uow, settings=shop.settings, now=NOW)
    plan = pipeline.plan_of(queued)
    assert (plan.blend.kind, plan.blend.ease_l2, plan.blend.ease_max_items) == ("ease", 500.0, 15)
    assert plan.params.components == SMALL.params.components
