"""Items and customers kept faithfully by the services, on SQLite and PostgreSQL."""

from decimal import Decimal

import pytest

from salesbot.bootstrap import bootstrap
from salesbot.catalog import customers, items
from salesbot.config import Settings
from salesbot.errors import InvalidInput, NotFound


@pytest.fixture
def store(database_url):
    services = bootstrap(Settings(database_url=database_url))
    yield services
    services.close()


def put_item(store, item_id, **values):
    values = {"title": f"Item {item_id}", "price": "10", "currency": "EUR"} | values
    return items.put(uow=store.uow(), item_id=item_id, **values)


def test_item_round_trip_keeps_price_attributes_and_times(store):
    put_item(store, "sku-1", price=Decimal("1234.5678"), currency="eur", attributes={"color": "red", "sizes": [1, 2]})
    item = items.get(uow=store.uow(), item_id="sku-1")
    assert item.price == Decimal("1234.5678")
    assert item.currency == "EUR"
    assert item.attributes == {"color": "red", "sizes": [1, 2]}
    assert item.created_at.tzinfo is not None


def test_put_replaces_every_field(store):
    put_item(store, "sku-1", brand="Acme", category="tablets", in_stock=False)
    put_item(store, "sku-1", title="Renamed")
    item = items.get(uow=store.uow(), item_id="sku-1")
    assert (item.title, item.brand, item.category, item.in_stock) == ("Renamed", None, None, True)


def test_pages_walk_every_item_once_in_order(store):
    for n in range(7):
        put_item(store, f"sku-{n}", category="even" if n % 2 == 0 else "odd")
    seen, cursor = [], None
    while True:
        page = items.get_page(uow=store.uow(), page_size=3, cursor=cursor)
        seen += [item.item_id for item in page.rows]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"sku-{n}" for n in range(7)]
    evens = items.get_page(uow=store.uow(), page_size=10, category="even")
    assert [item.item_id for item in evens.rows] == ["sku-0", "sku-2", "sku-4", "sku-6"]


def test_a_forged_cursor_is_refused_naming_it(store):
    with pytest.raises(InvalidInput) as caught:
        items.get_page(uow=store.uow(), page_size=3, cursor="%%%")
    assert "cursor" in caught.value.errors


def test_deleted_items_are_gone(store):
    put_item(store, "sku-1")
    items.delete(uow=store.uow(), item_id="sku-1")
    with pytest.raises(NotFound):
        items.get(uow=store.uow(), item_id="sku-1")


def test_customer_round_trip_normalises_email_and_country(store):
    customers.put(uow=store.uow(), customer_id="c-1", email="Maria@Acme.EXAMPLE", country="de", segment="b2b")
    customer = customers.get(uow=store.uow(), customer_id="c-1")
    assert (customer.email, customer.country, customer.segment) == ("maria@acme.example", "DE", "b2b")
    customers.delete(uow=store.uow(), customer_id="c-1")
    with pytest.raises(NotFound):
        customers.get(uow=store.uow(), customer_id="c-1")
