"""Events recorded through the service on SQLite and PostgreSQL: idempotent, with customers made on the fly."""

import pytest
from sqlalchemy import text

from salesbot.bootstrap import bootstrap
from salesbot.catalog import customers, events, items
from salesbot.config import Settings
from salesbot.recommender.dataset import read_store


@pytest.fixture
def shop(database_url):
    services = bootstrap(Settings(database_url=database_url))
    items.put(uow=services.uow(), item_id="sku-1", title="Mug", price="4.50", currency="GBP")
    yield services
    services.close()


def test_a_batch_twice_is_recorded_once(shop):
    batch = [
        {"event_id": f"e-{n}", "customer_id": f"c-{n % 2}", "item_id": "sku-1", "type": "purchase", "value": 1}
        for n in range(4)
    ]
    first = events.record(uow=shop.uow(), events=batch, policy=shop.event_policy)
    again = events.record(uow=shop.uow(), events=batch, policy=shop.event_policy)
    assert (first.created, again.created, again.duplicate) == (4, 0, 4)
    assert customers.get(uow=shop.uow(), customer_id="c-1").customer_id == "c-1"
    assert events.counts_for_item(uow=shop.uow(), item_id="sku-1") == {"purchase": 4}


def test_times_come_back_in_utc_newest_first(shop):
    batch = [
        {
            "event_id": "a",
            "customer_id": "c-1",
            "item_id": "sku-1",
            "type": "view",
            "occurred_at": "2024-03-01T10:00:00+01:00",
        },
        {
            "event_id": "b",
            "customer_id": "c-1",
            "item_id": "sku-1",
            "type": "view",
            "occurred_at": "2024-03-02T10:00:00Z",
        },
    ]
    events.record(uow=shop.uow(), events=batch, policy=shop.event_policy)
    page = events.get_page_for_customer(uow=shop.uow(), customer_id="c-1", page_size=5)
    assert [(e.event_id, e.occurred_at.isoformat()) for e in page.rows] == [
        ("b", "2024-03-02T10:00:00+00:00"),
        ("a", "2024-03-01T09:00:00+00:00"),
    ]


def test_rows_no_driver_can_read_never_stop_training_or_the_events_page(shop):
    """Events dated year 0 were accepted before dates were checked: the loader and the page skip them."""
    good = [{"event_id": "ok", "customer_id": "c-1", "item_id": "sku-1", "type": "view"}]
    events.record(uow=shop.uow(), events=good, policy=shop.event_policy)
    sqlite = shop.engine.dialect.name == "sqlite"
    year_zero = "'0000-01-01 00:00:00.000000'" if sqlite else "'0001-01-01 00:00:00+00 BC'::timestamptz"
    with shop.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO events (event_id, customer_id, item_id, type, occurred_at) "
                f"VALUES ('bad', 'c-1', 'sku-1', 'view', {year_zero})"
            )
        )
    with shop.uow() as uow:
        store = read_store(uow.session.connection())
    assert store.events.occurred_at.notna().all()
    assert len(store.events) == 1
    page = events.get_page_for_customer(uow=shop.uow(), customer_id="c-1", page_size=10)
    assert [event.event_id for event in page.rows] == ["ok"]
