"""Between trainings the store changes, and the lists follow, on SQLite and PostgreSQL: a customer's events of the
last minutes change their list now (folded into the item-to-item model at request time), a customer the model has
never seen gets a personal list from their first events, and an item added after training is placed by its
features (category, brand, price band, title words) and shows up in "similar items"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from salesbot.bootstrap import bootstrap
from salesbot.catalog import events, items
from salesbot.config import Settings
from salesbot.recommender import pipeline, versions
from salesbot.recommender.serving import Filters
from tests.integration.test_recommender import SMALL, stock

ANY = Filters()


@pytest.fixture
def shop(database_url):
    services = bootstrap(Settings(database_url=database_url, model_check_seconds=0))
    stock(services)
    trained = pipeline.train(uow=services.uow, plan=SMALL, weights=services.settings.event_weights)
    versions.activate(uow=services.uow(), version_id=trained.id)
    yield services
    services.close()


def clusters(answer) -> list[str]:
    return [item.item_id[0] for item in answer.items]


def happened_now(shop, customer_id: str, item_ids: list[str], kind: str = "purchase") -> None:
    now = datetime.now(UTC).isoformat()
    rows = [{"customer_id": customer_id, "item_id": item, "type": kind, "occurred_at": now} for item in item_ids]
    events.record(uow=shop.uow(), events=rows, policy=shop.event_policy)


def test_todays_purchases_change_a_known_customers_list_without_retraining(shop):
    before = shop.recommender.for_customer("a-1", n=5, filters=ANY)
    assert clusters(before).count("t") >= 4  # a tea lover, as trained

    happened_now(shop, "a-1", ["h-2", "h-5", "h-8"])  # today they took up tools
    after = shop.recommender.for_customer("a-1", n=5, filters=ANY)

    assert after.model_version == before.model_version  # the same model, no retraining
    assert after.strategy == "personal"
    assert clusters(after).count("h") >= 3, [item.item_id for item in after.items]
    assert {"h-2", "h-5", "h-8"}.isdisjoint(item.item_id for item in after.items)  # bought: not offered again


def test_a_customer_the_model_never_saw_gets_a_personal_list_from_their_first_events(shop):
    first = shop.recommender.for_customer("walk-in", n=5, filters=ANY)
    assert first.strategy == "popular"

    happened_now(shop, "walk-in", ["t-4", "t-7"], kind="view")
    later = shop.recommender.for_customer("walk-in", n=5, filters=ANY)

    assert later.strategy == "personal"
    assert clusters(later).count("t") >= 4, [item.item_id for item in later.items]
    assert all(item.reason for item in later.items)


def put_new_tea(shop) -> None:
    items.put(uow=shop.uow(), item_id="t-new", title="Tea thing deluxe", category="tea", price="45",
              currency="EUR")  # fmt: skip


def test_an_item_added_after_training_shows_up_in_similar_items(shop, database_url):
    put_new_tea(shop)
    another_process = bootstrap(Settings(database_url=database_url, model_check_seconds=0))
    try:
        its_own = another_process.recommender.similar("t-new", n=5, filters=ANY)
        assert its_own.strategy == "similar"  # not the popular fallback: it was placed by its features
        assert clusters(its_own).count("t") >= 4, [item.item_id for item in its_own.items]

        others = another_process.recommender.similar("t-3", n=10, filters=ANY)
        assert "t-new" in [item.item_id for item in others.items]

        session = another_process.recommender.for_session(["t-new"], n=5, filters=ANY)
        assert session.strategy == "session"
        assert clusters(session).count("t") >= 4
    finally:
        another_process.close()


def test_a_running_process_places_the_new_item_when_it_re_reads_the_catalog(shop):
    assert shop.recommender.similar("t-2", n=5, filters=ANY).strategy == "similar"  # loaded before the item came
    put_new_tea(shop)

    for _ in range(50):  # the catalog is re-read on the side; a request meanwhile uses the shelf it has
        shop.recommender.current()
        shop.recommender.close()  # waits for the re-read
        if "t-new" in shop.recommender.current().positions:
            break
    answer = shop.recommender.similar("t-new", n=5, filters=ANY)
    assert answer.strategy == "similar"
    assert clusters(answer).count("t") >= 4
