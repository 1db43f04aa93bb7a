"""The worker's scheduled jobs, on SQLite and PostgreSQL: each run recorded with its outcome and what it did, due again
only after its period, one worker at a time, a failing job recorded as failed while the others still run, a bounded
history; the retrain job tells whether what it queued was activated; re-embedding only what changed."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from models import JobRun, ModelVersion
from models.conversation import FaqVector, ItemVector
from salesbot.bootstrap import bootstrap
from salesbot.catalog import events, items
from salesbot.config import Settings
from salesbot.conversation import faqs
from salesbot.conversation.embeddings import EmbeddingsUnavailable, LocalModel, from_bytes
from salesbot.errors import Conflict, InvalidInput
from salesbot.recommender import pipeline, versions
from salesbot.upkeep import jobs, running, runs
from salesbot.upkeep.jobs import Kit
from tests.integration.test_recommender import stock

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Broken:
    """An embedding model that will not load."""

    name = "broken-model"

    def encode(self, texts):  # type: ignore[no-untyped-def]
        raise EmbeddingsUnavailable("the model would not load")


@pytest.fixture
def shop(database_url, tmp_path):
    services = bootstrap(Settings(database_url=database_url, embeddings="off", artifact_dir=str(tmp_path)))
    yield services
    services.close()


def kit_of(shop, **changes) -> Kit:
    return Kit(new_uow=shop.uow, settings=replace(shop.settings, **changes.pop("settings", {})), **changes)


def outcomes(shop) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for run in reversed(runs.history(uow=shop.uow(), limit=500)):
        found.setdefault(run.job, []).append(run.outcome)
    return found


def test_each_due_job_runs_once_per_period_and_records_what_it_did(shop):
    kit = kit_of(shop)
    ran = running.run_due(kit=kit, now=NOW)
    assert {run.job: run.outcome for run in ran} == {
        "prune-models": "ok",
        "guardrails": "ok",
        "reembed": "skipped",
        "faq-gaps": "ok",
    }  # fmt: skip  (retrain is off: neither retraining setting is set)
    said = {run.job: run.summary for run in ran}
    assert said["reembed"] == "no embedding model is configured (SALESBOT_EMBEDDINGS=off)"
    assert said["faq-gaps"] == "no unanswered questions in the last 30 days"
    assert said["guardrails"] == "no arm stopped"
    assert all(run.finished_at is not None and run.worker for run in ran)

    assert running.run_due(kit=kit, now=NOW + timedelta(seconds=30)) == []  # nothing is due yet
    again = running.run_due(kit=kit, now=NOW + timedelta(minutes=1))
    assert [run.job for run in again] == ["guardrails"]  # every minute; pruning every 10
    table = {job["name"]: job for job in running.standing(uow=shop.uow(), settings=shop.settings, now=NOW)}
    assert table["retrain"]["every_seconds"] is None
    assert "SALESBOT_RETRAIN_AFTER_EVENTS" in table["retrain"]["off"]
    assert table["prune-models"]["next_due_at"] == NOW + timedelta(minutes=10)
    assert table["faq-gaps"]["next_due_at"] == NOW + timedelta(hours=24)
    assert table["guardrails"]["last_run"]["started_at"] == NOW + timedelta(minutes=1)


def test_a_failing_job_is_recorded_with_its_error_and_the_others_still_run(shop):
    faqs.create(uow=shop.uow(), question="Do you ship abroad?", answer="To every EU country.")
    ran = running.run_due(kit=kit_of(shop, embedder=Broken()), now=NOW)
    failed = next(run for run in ran if run.job == "reembed")
    assert failed.outcome == "failed"
    assert failed.error == "EmbeddingsUnavailable: the model would not load"
    assert {run.job for run in ran if run.outcome == "ok"} == {"prune-models", "guardrails", "faq-gaps"}
    table = {job["name"]: job for job in running.standing(uow=shop.uow(), settings=shop.settings, now=NOW)}
    assert table["reembed"]["last_run"]["outcome"] == "failed"
    assert not table["reembed"]["running"]  # its lease was given back
    with pytest.raises(InvalidInput, match="no job 'reticulate'; the jobs are retrain, prune-models"):
        running.run_now(kit=kit_of(shop), name="reticulate")


def test_two_workers_never_run_one_job_at_once(shop):
    """Eight workers ask for the same job at the same moment: one gets it; while it runs, `run now` is refused;
    once it ends it is not due again before its period; a run whose worker died is taken over after its lease."""
    lease, every = timedelta(minutes=10), timedelta(minutes=1)
    now = datetime.now(UTC)  # `run now` reads the clock
    start = threading.Barrier(8)
    claimed: list[JobRun | None] = []

    def ask() -> None:
        start.wait()
        claimed.append(runs.claim(new_uow=shop.uow, job="guardrails", lease=lease, now=now, every=every,
                                  worker=threading.current_thread().name))  # fmt: skip

    workers = [threading.Thread(target=ask, name=f"worker-{n}") for n in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    won = [run for run in claimed if run is not None]
    assert len(won) == 1
    with pytest.raises(Conflict, match=f"guardrails is running in another worker \\({won[0].worker}"):
        running.run_now(kit=kit_of(shop), name="guardrails")

    runs.finish(uow=shop.uow(), run=won[0], outcome="ok", now=now + timedelta(seconds=5), done=runs.Done("done"))
    assert runs.claim(new_uow=shop.uow, job="guardrails", lease=lease, now=now + timedelta(seconds=6), every=every) \
        is None  # fmt: skip
    stuck = runs.claim(new_uow=shop.uow, job="guardrails", lease=lease, now=now + every, every=every, worker="dies")
    assert stuck is not None
    assert runs.claim(new_uow=shop.uow, job="guardrails", lease=lease, now=now + every * 5, every=every) is None
    taken = runs.claim(new_uow=shop.uow, job="guardrails", lease=lease, now=now + every + lease * 2, every=every)
    assert taken is not None
    abandoned = next(run for run in runs.history(uow=shop.uow(), job="guardrails") if run.id == stuck.id)
    assert abandoned.outcome == "failed"
    assert abandoned.error == runs.ABANDONED


def test_the_history_is_bounded_per_job_and_outcome(shop):
    first_ok = None
    for n in range(runs.KEEP + 10):
        run = runs.claim(new_uow=shop.uow, job="guardrails", lease=timedelta(minutes=1), now=NOW, every=None)
        runs.finish(uow=shop.uow(), run=run, outcome="skipped", now=NOW, done=runs.Done(f"skipped {n}", skipped=True))
        if n == 3:
            ok = runs.claim(new_uow=shop.uow, job="guardrails", lease=timedelta(minutes=1), now=NOW, every=None)
            first_ok = runs.finish(uow=shop.uow(), run=ok, outcome="ok", now=NOW, done=runs.Done("the real one"))
    kept = runs.history(uow=shop.uow(), job="guardrails", limit=1000)
    assert len([run for run in kept if run.outcome == "skipped"]) == runs.KEEP
    assert kept[0].summary == f"skipped {runs.KEEP + 9}"  # the newest stay
    assert first_ok.id in {run.id for run in kept}  # a job skipped often never pushes its last real run out


def test_the_retrain_job_records_what_it_queued_and_whether_it_was_activated(shop):
    stock(shop)
    kit = kit_of(shop, settings={"retrain_after_events": 50})
    queued = running.run_now(kit=kit, name="retrain")
    version_id = queued.details["queued"]
    assert queued.outcome == "ok"
    assert queued.summary == f"queued retraining {version_id}: no model yet"
    assert running.run_now(kit=kit, name="retrain").outcome == "skipped"  # one run at a time

    train_as_the_worker_does(shop)
    running.run_now(kit=kit, name="retrain")
    noted = next(run for run in runs.history(uow=shop.uow(), job="retrain") if run.id == queued.id)
    assert noted.details["result"].startswith("trained and activated (NDCG@10 0.")
    assert noted.summary.startswith(f"queued retraining {version_id}: no model yet; trained and activated")
    assert versions.active_id(uow=shop.uow()) == version_id

    with shop.uow() as uow:  # the active version measures perfectly: nothing can beat it
        uow.session.execute(update(ModelVersion).where(ModelVersion.id == version_id)
                            .values(metrics={"model": {"ndcg@10": 1.0}}))  # fmt: skip
        uow.commit()
    more_events(shop, 60)
    second = running.run_now(kit=kit, name="retrain")
    assert second.summary.startswith("queued retraining ")
    trained = train_as_the_worker_does(shop)
    soon = running.run_now(kit=kit, name="retrain")  # the decision follows the training: not judged yet
    assert "not activated" not in soon.summary
    later = trained.finished_at + timedelta(minutes=5)
    settled = running.run(jobs.catalogue(kit.settings)["retrain"], kit=kit, now=later, scheduled=False)
    assert f"{trained.id} trained, not activated: NDCG@10 0." in settled.summary
    assert settled.summary.endswith(f"is below {version_id}'s 1.0000")
    assert versions.active_id(uow=shop.uow()) == version_id


def more_events(shop, count: int) -> None:
    rows = [{"customer_id": f"a-{n % 20}", "item_id": f"t-{(n * 7) % 10}", "type": "view",
             "occurred_at": f"2025-06-{1 + n % 7:02d}T12:00:00Z"} for n in range(count)]  # fmt: skip
    events.record(uow=shop.uow(), events=rows, policy=shop.event_policy)


def train_as_the_worker_does(shop) -> ModelVersion:
    """What `salesbot worker`'s training loop does with a queued run (pipeline.take_jobs, one round)."""
    version = versions.claim(uow=shop.uow(), stale_after=pipeline.STALE_AFTER)
    assert version is not None
    trained = pipeline.run_job(uow=shop.uow, version=version, weights=shop.settings.event_weights,
                               artifacts=shop.settings.artifacts)  # fmt: skip
    pipeline.activate_if_better(uow=shop.uow, version=trained)
    return versions.get(uow=shop.uow(), version_id=trained.id)


def test_reembedding_embeds_only_what_changed_since_its_vectors_were_made(shop):
    model = LocalModel()
    for n, (title, category) in enumerate([("Arcbook Laptop", "laptops"), ("Quiet Keyboard", "keyboards")]):
        items.put(uow=shop.uow(), item_id=f"sku-{n}", title=title, price="100", currency="EUR", category=category)
    faqs.create(uow=shop.uow(), question="Do you ship abroad?", answer="To every EU country.")
    kit = kit_of(shop, embedder=model)

    first = running.run_now(kit=kit, name="reembed")
    assert first.summary == f"re-embedded 1 FAQs and 2 items with {model.name}"
    assert running.run_now(kit=kit, name="reembed").summary == f"1 FAQs and 2 items were up to date ({model.name})"

    items.put(uow=shop.uow(), item_id="sku-1", title="Silent Keyboard", price="100", currency="EUR",
              category="keyboards")  # fmt: skip
    changed = running.run_now(kit=kit, name="reembed")
    assert changed.summary == f"re-embedded 0 FAQs and 1 items with {model.name}"
    with shop.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(ItemVector)) == 2
        assert uow.session.scalar(select(func.count()).select_from(FaqVector)) == 1
        keyboard = uow.session.get(ItemVector, ("sku-1", model.name))
    vector = model.encode(["Silent Keyboard (keyboards)"])[0]
    assert float(vector @ from_bytes(keyboard.vector)) == pytest.approx(1.0, abs=1e-4)  # the new title's meaning


def test_the_quick_jobs_run_apart_from_the_slow_ones(shop):
    """The worker runs guardrails, retraining and pruning on one thread and re-embedding and FAQ gaps on another, so a
    long re-embedding of a new catalog never keeps an experiment's broken arm serving."""
    quick = running.run_due(kit=kit_of(shop), now=NOW, slow=False)
    assert {run.job for run in quick} == {"prune-models", "guardrails"}  # retraining is off in these settings
    slow = running.run_due(kit=kit_of(shop), now=NOW, slow=True)
    assert {run.job for run in slow} == {"reembed", "faq-gaps"}


def test_a_big_catalog_is_embedded_over_several_runs(shop, monkeypatch):
    from salesbot.conversation import item_vectors

    monkeypatch.setattr(item_vectors, "PAGE", 2)
    monkeypatch.setattr(item_vectors, "AT_MOST", 3)
    for n in range(7):
        items.put(uow=shop.uow(), item_id=f"sku-{n}", title=f"Thing {n}", price="10", currency="EUR")
    kit = kit_of(shop, embedder=LocalModel())
    done = [running.run_now(kit=kit, name="reembed").details["items"] for _ in range(4)]
    assert done == [4, 3, 0, 0]  # whole pages, stopping once at least 3 were embedded; then nothing is left
    with shop.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(ItemVector)) == 7
