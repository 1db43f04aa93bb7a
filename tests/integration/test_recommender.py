"""Recommendations a shopper would notice: two taste clusters, filters, cold start, versions and hot reload."""

import threading
import time
from datetime import timedelta

import numpy as np
import pytest

from api import create_app
from models import ModelVersion
from models.base import utcnow
from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.catalog import customers, events, items
from salesbot.config import Settings
from salesbot.errors import Unavailable
from salesbot.recommender import pipeline, versions
from salesbot.recommender.serving import Filters, Recommender

SMALL = pipeline.Plan(params=pipeline.Params(components=16, epochs=40, learning_rate=0.05))


def stock(shop):
    """Tea drinkers (a-*) buy tea, makers (b-*) buy tools; each cluster has 10 items, cheap to dear."""
    for cluster, category in (("t", "tea"), ("h", "tools")):
        for n in range(10):
            items.put(
                uow=shop.uow(),
                item_id=f"{cluster}-{n}",
                title=f"{category.title()} thing {n}",
                category=category,
                price=str(5 + 10 * n),
                currency="EUR",
            )
    happened = []
    for cluster, prefix, segment in (("t", "a", "tea-lover"), ("h", "b", "maker")):
        for person in range(20):
            customers.put(uow=shop.uow(), customer_id=f"{prefix}-{person}", segment=segment)
            for step in range(6):
                item = f"{cluster}-{(person + 3 * step) % 10}"
                kind = "purchase" if step == 0 else "view"
                day = 1 + (person + step) % 27
                happened.append(
                    {
                        "customer_id": f"{prefix}-{person}",
                        "item_id": item,
                        "type": kind,
                        "occurred_at": f"2025-05-{day:02d}T10:00:00Z",
                    }
                )
    events.record(uow=shop.uow(), events=happened, policy=shop.event_policy)
    customers.put(uow=shop.uow(), customer_id="new-tea-lover", segment="tea-lover")


@pytest.fixture
def shop(database_url):
    services = bootstrap(Settings(database_url=database_url, model_check_seconds=0))
    stock(services)
    yield services
    services.close()


@pytest.fixture
def trained(shop):
    return pipeline.train(uow=shop.uow, plan=SMALL, weights=shop.settings.event_weights)


@pytest.fixture
def client(shop):
    app = create_app(services=shop)
    secret = keys.create(uow=shop.uow(), role="server", name="shop")[1]
    test_client = app.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return test_client


def categories(answer):
    return [item["item_id"][0] for item in answer["items"]]


def test_before_any_model_popular_items_are_served(client):
    answer = client.get("/v1/customers/a-1/recommendations?n=5").json
    assert (answer["model_version"], answer["strategy"]) == (None, "popular")
    assert len(answer["items"]) == 5
    assert answer["recommendation_id"].startswith("rec.popular.")


def test_a_trained_version_is_kept_with_its_metrics(trained):
    assert trained.status == "ready"
    assert set(trained.metrics["model"]) >= {"precision@10", "recall@10", "ndcg@10", "map@10", "coverage", "auc"}
    assert trained.data["customers"] == 41
    assert trained.data["items"] == 20
    assert not trained.is_active


def test_each_taste_cluster_gets_its_own_items(client, shop, trained):
    versions.activate(uow=shop.uow(), version_id=trained.id)
    tea = client.get("/v1/customers/a-1/recommendations?n=5").json
    tools = client.get("/v1/customers/b-1/recommendations?n=5").json
    assert (tea["strategy"], tea["model_version"]) == ("personal", trained.id)
    assert categories(tea).count("t") >= 4
    assert categories(tools).count("h") >= 4
    assert all(item["reason"] for item in tea["items"])


def test_purchases_are_left_out_unless_asked_for(client, shop, trained):
    versions.activate(uow=shop.uow(), version_id=trained.id)
    bought = "t-1"  # a-1's purchase (step 0)
    ids = [i["item_id"] for i in client.get("/v1/customers/a-1/recommendations?n=20").json["items"]]
    assert bought not in ids
    ids = [
        i["item_id"] for i in client.get("/v1/customers/a-1/recommendations?n=20&include_purchased=true").json["items"]
    ]
    assert bought in ids


def test_business_filters_hold(client, shop, trained):
    versions.activate(uow=shop.uow(), version_id=trained.id)
    items.put(
        uow=shop.uow(), item_id="t-2", title="Tea thing 2", category="tea", price="25", currency="EUR", in_stock=False
    )
    answer = client.get("/v1/customers/b-1/recommendations?n=10&category=tea&max_price=60&exclude=t-3,t-4").json
    ids = [i["item_id"] for i in answer["items"]]
    assert ids
    assert all(i.startswith("t-") for i in ids)
    assert all(float(i["price"]) <= 60 for i in answer["items"])
    assert not {"t-2", "t-3", "t-4"} & set(ids)
    mixed = client.get("/v1/customers/a-1/recommendations?n=6&diversify=3").json
    assert categories(mixed).count("t") == 3


def test_cold_start_from_attributes_and_from_nothing(client, shop, trained):
    versions.activate(uow=shop.uow(), version_id=trained.id)
    known_kind = client.get("/v1/customers/new-tea-lover/recommendations?n=5").json
    assert known_kind["strategy"] == "features"
    assert categories(known_kind).count("t") >= 4
    stranger = client.get("/v1/customers/never-seen/recommendations?n=5").json
    assert (stranger["strategy"], len(stranger["items"])) == ("popular", 5)


def test_similar_items_and_sessions_stay_in_taste(client, shop, trained):
    versions.activate(uow=shop.uow(), version_id=trained.id)
    similar = client.get("/v1/items/t-1/similar?n=5").json
    assert categories(similar).count("t") >= 4
    assert "t-1" not in [i["item_id"] for i in similar["items"]]
    session = client.post("/v1/recommendations/session", json={"item_ids": ["h-1", "h-2"], "n": 5}).json
    assert categories(session).count("h") >= 4
    assert client.get("/v1/items/nope/similar").status_code == 404
    popular = client.get("/v1/items/popular?n=3&category=tools").json
    assert categories(popular) == ["h", "h", "h"]


def test_activation_reaches_every_process_and_rolls_back(shop, trained, database_url):
    second = pipeline.train(uow=shop.uow, plan=SMALL, weights=shop.settings.event_weights)
    other_process = bootstrap(Settings(database_url=database_url, model_check_seconds=0))
    versions.activate(uow=shop.uow(), version_id=trained.id)
    assert other_process.recommender.for_customer("a-1", n=3, filters=_filters()).model_version == trained.id
    versions.activate(uow=shop.uow(), version_id=second.id)
    assert other_process.recommender.for_customer("a-1", n=3, filters=_filters()).model_version == second.id
    versions.activate(uow=shop.uow(), version_id=trained.id)  # roll back
    assert other_process.recommender.for_customer("a-1", n=3, filters=_filters()).model_version == trained.id
    assert [v.id for v in versions.get_all(uow=shop.uow()) if v.is_active] == [trained.id]
    other_process.close()


def test_activate_if_better_keeps_the_better_model(shop, trained):
    assert pipeline.activate_if_better(uow=shop.uow, version=trained)
    worse = pipeline.train(
        uow=shop.uow,
        plan=pipeline.Plan(params=pipeline.Params(components=2, epochs=1)),
        weights=shop.settings.event_weights,
    )
    if worse.metrics["model"]["ndcg@10"] < trained.metrics["model"]["ndcg@10"]:
        assert not pipeline.activate_if_better(uow=shop.uow, version=worse)
        assert versions.active_id(uow=shop.uow()) == trained.id


def test_models_api_trains_in_the_background_and_activates(client, shop):
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {keys.create(uow=shop.uow(), role='admin', name='ops')[1]}"
    started = client.post("/v1/models", json={"epochs": 5, "components": 8})
    assert started.status_code == 202
    assert started.json["status"] == "queued"
    model_id = started.json["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/v1/models/{model_id}").json["status"] in ("queued", "training") and time.monotonic() < deadline:
        time.sleep(0.2)
    detail = client.get(f"/v1/models/{model_id}").json
    assert detail["status"] == "ready"
    assert detail["data"]["events"] == 240
    assert len(detail["artifact_sha256"]) == 64
    assert client.get("/v1/models").json[0]["id"] == model_id
    assert client.post(f"/v1/models/{model_id}/activate").json["is_active"] is True
    assert client.get("/v1/customers/a-1/recommendations").json["model_version"] == model_id


def test_events_from_a_recommendation_are_credited_to_its_model(client, shop, trained):
    versions.activate(uow=shop.uow(), version_id=trained.id)
    shown = [client.get("/v1/customers/a-1/recommendations?n=3").json for _ in range(2)]
    assert all(answer["recommendation_id"].startswith(f"rec.{trained.id}.") for answer in shown)
    first = shown[0]
    happened = [
        {
            "customer_id": "a-1",
            "item_id": first["items"][0]["item_id"],
            "type": "click",
            "recommendation_id": first["recommendation_id"],
        },
        {
            "customer_id": "a-1",
            "item_id": first["items"][0]["item_id"],
            "type": "purchase",
            "recommendation_id": first["recommendation_id"],
        },
        {"customer_id": "a-1", "item_id": "t-0", "type": "click", "recommendation_id": "rec.mv_other.0123"},
    ]
    assert client.post("/v1/events", json={"events": happened}).json["accepted"] == 3
    client.get("/v1/items/popular")  # counts are written at the next check of the active model
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {keys.create(uow=shop.uow(), role='admin', name='ops')[1]}"
    online = client.get(f"/v1/models/{trained.id}").json["online"]
    assert (online["served"], online["clicks"], online["purchases"]) == (2, 1, 1)
    assert online["ctr"] == pytest.approx(0.5)
    assert online["conversion"] == pytest.approx(0.5)


def test_a_model_that_cannot_serve_is_not_activated(client, shop):
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {keys.create(uow=shop.uow(), role='admin', name='ops')[1]}"
    failed = pipeline.start(uow=shop.uow, plan=SMALL)
    versions.fail(uow=shop.uow(), version_id=failed.id, error="test")
    response = client.post(f"/v1/models/{failed.id}/activate")
    assert response.status_code == 422
    assert "only a ready model" in response.json["detail"]
    assert client.post("/v1/models/mv_nope/activate").status_code == 404


def _filters():
    from salesbot.recommender.serving import Filters

    return Filters()


def test_tuning_keeps_the_default_in_the_running_and_stops_early(shop):
    from salesbot.recommender import tuning
    from salesbot.recommender.dataset import read_store

    with shop.uow() as uow:
        store = read_store(uow.session.connection())
    seen = []
    results = tuning.tune(
        store,
        shop.settings.event_weights,
        now=store.events.occurred_at.max(),
        trials=3,
        max_epochs=20,
        on_trial=seen.append,
    )
    lightfm = [t for t in seen if t.blend.kind == "lightfm"]
    assert len(lightfm) == 3
    assert len(seen) == 3 + len(tuning.blend_grid())  # then EASE's and the blend's grids over the best LightFM
    assert {t.blend.kind for t in results} == {"lightfm", "ease", "blend"}
    assert [t.ndcg for t in results] == sorted((t.ndcg for t in results), reverse=True)
    assert pipeline.Params(epochs=20).loss in {t.params.loss for t in lightfm}
    assert all(t.epochs % tuning.CHECK_EVERY == 0 and t.epochs <= 20 for t in results)
    best_lightfm = max(lightfm, key=lambda t: t.ndcg)
    assert all(t.params == best_lightfm.params for t in seen if t.blend.kind != "lightfm")


def test_tune_chooses_among_model_kinds_and_trains_the_winner(shop, database_url):
    from click.testing import CliRunner

    from salesbot.cli import main

    runner = CliRunner(env={"SALESBOT_DATABASE_URL": database_url})
    done = runner.invoke(main, ["tune", "--trials", "2", "--max-epochs", "10"])
    assert done.exit_code == 0, done.output
    table = done.output.split("training a version with the best")[0]
    kinds = [line.split()[0] for line in table.splitlines() if line.split()[:1] in (["blend"], ["lightfm"], ["ease"])]
    assert sorted(kinds) == ["blend", "ease", "lightfm"]  # one row per kind, best first
    winner = kinds[0]
    trained = versions.get_all(uow=shop.uow())[0]
    assert trained.params["blend"]["kind"] == winner
    assert trained.metrics["kind"] == winner


def test_train_can_skip_the_hold_out_and_still_serve(shop, database_url):
    from click.testing import CliRunner

    from salesbot.cli import main

    runner = CliRunner(env={"SALESBOT_DATABASE_URL": database_url})
    refused = runner.invoke(main, ["train", "--skip-evaluation", "--activate-if-better"])
    assert refused.exit_code == 2
    assert "does not measure" in refused.output
    done = runner.invoke(main, ["train", "--epochs", "5", "--components", "8", "--skip-evaluation", "--activate"])
    assert done.exit_code == 0, done.output
    assert "trained without a hold-out" in done.output
    active = versions.get(uow=shop.uow(), version_id=versions.active_id(uow=shop.uow()))
    assert "model" not in active.metrics
    assert shop.recommender.for_customer("a-1", n=3, filters=Filters()).strategy == "personal"


def test_artifacts_can_live_in_a_shared_directory_and_are_checked(shop, database_url, tmp_path):
    shared = tmp_path / "artifacts"
    version = pipeline.train(uow=shop.uow, plan=SMALL, weights=shop.settings.event_weights, artifacts=shared)
    assert [path.name for path in shared.iterdir()] == [f"{version.artifact_sha256}.npz"]
    versions.activate(uow=shop.uow(), version_id=version.id)
    host = bootstrap(Settings(database_url=database_url, model_check_seconds=0, artifact_dir=str(shared)))
    assert host.recommender.for_customer("a-1", n=3, filters=Filters()).model_version == version.id
    # A host without the file, or with a tampered one, answers with popular items rather than an error.
    elsewhere = bootstrap(Settings(database_url=database_url, model_check_seconds=0, artifact_dir=str(tmp_path)))
    assert elsewhere.recommender.for_customer("a-1", n=3, filters=Filters()).model_version is None
    (shared / f"{version.artifact_sha256}.npz").write_bytes(b"tampered")
    with pytest.raises(Unavailable, match="sha256"):
        versions.load_artifact(uow=shop.uow(), version_id=version.id, artifacts=shared)
    tampered = bootstrap(Settings(database_url=database_url, model_check_seconds=0, artifact_dir=str(shared)))
    assert tampered.recommender.for_customer("a-1", n=3, filters=Filters()).strategy == "popular"
    for services in (host, elsewhere, tampered):
        services.close()


def test_a_training_run_whose_process_died_is_taken_up_by_a_worker(shop):
    plan = pipeline.Plan(params=pipeline.Params(components=8, epochs=3))
    alive = pipeline.start(uow=shop.uow, plan=plan)  # training right now, somewhere
    died = pipeline.start(uow=shop.uow, plan=plan)
    with shop.uow() as uow:
        uow.session.get(ModelVersion, died.id).heartbeat_at = utcnow() - timedelta(minutes=11)
        uow.commit()
    queued = pipeline.start(uow=shop.uow, plan=plan, queued=True)
    stop = threading.Event()
    worker = threading.Thread(
        target=pipeline.take_jobs,
        args=(stop,),
        kwargs={"uow": shop.uow, "weights": shop.settings.event_weights, "artifacts": None, "every": 0.1},
    )
    worker.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and {versions.get(uow=shop.uow(), version_id=v.id).status
                                           for v in (died, queued)} != {"ready"}:  # fmt: skip
        time.sleep(0.1)
    stop.set()
    worker.join(timeout=60)
    assert versions.get(uow=shop.uow(), version_id=died.id).status == "ready"
    assert versions.get(uow=shop.uow(), version_id=queued.id).status == "ready"
    assert versions.get(uow=shop.uow(), version_id=alive.id).status == "training"  # left to its own process
    assert versions.get(uow=shop.uow(), version_id=died.id).params["epochs"] == 3


def test_stock_and_price_changes_reach_serving_without_a_new_model(shop, trained):
    versions.activate(uow=shop.uow(), version_id=trained.id)

    def tea(**filters):
        return {s.item_id: s for s in shop.recommender.for_customer("a-1", n=10, filters=Filters(**filters)).items}

    first = tea()
    gone, dearer = sorted(first)[:2]
    items.put(uow=shop.uow(), item_id=gone, title="Tea", category="tea", price="5", currency="EUR", in_stock=False)
    items.put(uow=shop.uow(), item_id=dearer, title="Tea", category="tea", price="95", currency="EUR")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (gone in tea() or tea().get(dearer, first[dearer]).price != 95):
        time.sleep(0.05)  # the catalog is re-read on the side (here after every check)
    assert gone not in tea()
    assert tea()[dearer].price == 95
    items.delete(uow=shop.uow(), item_id=dearer)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and dearer in tea():
        time.sleep(0.05)
    assert dearer not in tea()


def test_a_request_keeps_one_shelf_while_the_catalog_is_re_read(client, shop, trained):
    """The background re-read swaps in a new shelf; a request already picking keeps the one it started with, so a
    deleted item is never picked from one shelf and formatted from the next (a NaN price, a 500)."""
    versions.activate(uow=shop.uow(), version_id=trained.id)
    recommender = Recommender(shop.uow, check_every=60)  # no background re-read of its own within the test
    held = recommender.current()
    gone = held.positions["t-1"]
    items.delete(uow=shop.uow(), item_id="t-1")
    recommender._restock(held)  # what the background thread does, run here to choose the moment
    fresh = recommender.current()
    assert fresh is not held
    assert held.shelf.prices[gone] == 15.0  # the shelf a request in flight holds is untouched
    assert np.isnan(fresh.shelf.prices[gone])
    answer = client.get("/v1/customers/a-1/recommendations?n=10&in_stock=false")
    assert answer.status_code == 200
    assert "t-1" not in [item["item_id"] for item in answer.json["items"]]
