"""The store's site and back end stream events: good ones kept, bad ones named, retries harmless."""

import pytest

from api import create_app
from salesbot.access import keys
from salesbot.access.roles import Role
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings

TABLET = {"title": "Tablet", "price": "199.00", "currency": "EUR", "category": "tablets"}


@pytest.fixture
def server(client, as_role):
    headers = as_role(Role.SERVER)
    for sku in ("sku-1", "sku-2"):
        assert client.put(f"/v1/items/{sku}", json=TABLET, headers=headers).status_code == 200
    return headers


def send(client, headers, *events):
    return client.post("/v1/events", json={"events": list(events)}, headers=headers)


def test_good_events_are_kept_and_bad_ones_named_by_index(client, server):
    response = send(
        client,
        server,
        {"event_id": "e-1", "customer_id": "c-1", "item_id": "sku-1", "type": "view"},
        {"event_id": "e-2", "customer_id": "c-1", "item_id": "sku-1", "type": "teleport"},
        {"event_id": "e-3", "item_id": "sku-1", "type": "view"},
        {"event_id": "e-4", "customer_id": "c-1", "item_id": "sku-2", "type": "purchase", "value": "two"},
        {"event_id": "e-5", "customer_id": "c-1", "item_id": "sku-2", "type": "purchase", "value": 2},
        "not an event",
    )
    assert response.status_code == 202
    report = response.json
    assert (report["accepted"], report["duplicate"], report["rejected"]) == (2, 0, 4)
    reasons = {error["index"]: error["reason"] for error in report["errors"]}
    assert set(reasons) == {1, 2, 3, 5}
    assert "type 'teleport' is not one of" in reasons[1]
    assert "customer_id or a visitor_id" in reasons[2]
    assert "value must be a number" in reasons[3]
    assert "JSON object" in reasons[5]
    history = client.get("/v1/customers/c-1/events", headers=server).json["events"]
    assert sorted(event["event_id"] for event in history) == ["e-1", "e-5"]


def test_a_retried_batch_adds_nothing(client, server):
    batch = [{"event_id": f"e-{n}", "visitor_id": "v-1", "item_id": "sku-1", "type": "view"} for n in range(3)]
    assert send(client, server, *batch).json["accepted"] == 3
    again = send(client, server, *batch).json
    assert (again["accepted"], again["duplicate"]) == (0, 3)
    assert client.get("/v1/items/sku-1", headers=server).json["counts"]["view"] == 3


def test_a_repeated_event_id_within_a_batch_counts_once(client, server):
    event = {"event_id": "e-1", "visitor_id": "v-1", "item_id": "sku-1", "type": "click"}
    report = send(client, server, event, event).json
    assert (report["accepted"], report["duplicate"]) == (1, 1)


def test_unknown_customers_are_created_and_unknown_items_rejected(client, server):
    report = send(
        client,
        server,
        {"customer_id": "new-customer", "item_id": "sku-1", "type": "view"},
        {"customer_id": "new-customer", "item_id": "sku-404", "type": "view"},
    ).json
    assert report["accepted"] == 1
    assert report["errors"] == [{"index": 1, "reason": "item_id is not in the catalog"}]
    assert client.get("/v1/customers/new-customer", headers=server).status_code == 200


def test_the_operator_can_keep_unknown_items_and_add_event_types(sqlite_database_url):
    settings = Settings(
        database_url=sqlite_database_url, unknown_items="keep", event_weights={"view": 1.0, "wishlist": 2.0}
    )
    services = bootstrap(settings)
    client = create_app(services=services).test_client()
    headers = {"Authorization": f"Bearer {keys.create(uow=services.uow(), role='server', name='erp')[1]}"}
    report = send(
        client,
        headers,
        {"customer_id": "c-1", "item_id": "not-yet-in-catalog", "type": "wishlist"},
        {"customer_id": "c-1", "item_id": "not-yet-in-catalog", "type": "purchase"},
    ).json
    assert report["accepted"] == 1
    assert "is not one of: view, wishlist" in report["errors"][0]["reason"]
    services.close()


def test_more_than_1000_events_is_refused_whole_with_a_clear_message(client, server):
    events = [{"visitor_id": "v-1", "item_id": "sku-1", "type": "view"}] * 1001
    response = send(client, server, *events)
    assert response.status_code == 422
    assert "1 to 1000 events per request, not 1001" in response.json["errors"]["events"][0]
    assert client.get("/v1/items/sku-1", headers=server).json["counts"]["view"] == 0


@pytest.mark.parametrize("body", [{}, {"events": []}, {"events": "view"}, {"events": [], "extra": 1}])
def test_a_malformed_batch_names_the_field(client, server, body):
    response = client.post("/v1/events", json=body, headers=server)
    assert response.status_code == 422
    assert set(response.json["errors"]) & {"events", "extra"}


def test_events_can_say_when_they_happened_but_not_in_the_future(client, server):
    report = send(
        client,
        server,
        {
            "event_id": "old",
            "customer_id": "c-1",
            "item_id": "sku-1",
            "type": "view",
            "occurred_at": "2024-05-01T12:00:00+02:00",
        },
        {
            "event_id": "new",
            "customer_id": "c-1",
            "item_id": "sku-1",
            "type": "view",
            "occurred_at": "2999-01-01T00:00:00Z",
        },
        {"event_id": "odd", "customer_id": "c-1", "item_id": "sku-1", "type": "view", "occurred_at": "last tuesday"},
    ).json
    assert [error["index"] for error in report["errors"]] == [1, 2]
    history = client.get("/v1/customers/c-1/events", headers=server).json["events"]
    assert history[0]["occurred_at"] == "2024-05-01T10:00:00+00:00"


def test_customer_events_page_newest_first(client, server):
    send(
        client,
        server,
        *[
            {
                "event_id": f"e-{day}",
                "customer_id": "c-1",
                "item_id": "sku-1",
                "type": "view",
                "occurred_at": f"2024-05-{day:02d}T12:00:00Z",
            }
            for day in range(1, 6)
        ],
    )
    first = client.get("/v1/customers/c-1/events?page_size=2", headers=server).json
    assert [event["event_id"] for event in first["events"]] == ["e-5", "e-4"]
    rest = client.get(f"/v1/customers/c-1/events?page_size=10&cursor={first['next_cursor']}", headers=server).json
    assert [event["event_id"] for event in rest["events"]] == ["e-3", "e-2", "e-1"]
    assert rest["next_cursor"] is None
    assert client.get("/v1/customers/nobody/events", headers=server).status_code == 404


def test_item_counts_follow_the_events(client, server):
    send(
        client,
        server,
        *[{"customer_id": "c-1", "item_id": "sku-2", "type": kind} for kind in ("view", "view", "purchase")],
    )
    counts = client.get("/v1/items/sku-2", headers=server).json["counts"]
    assert (counts["view"], counts["purchase"], counts["click"]) == (2, 1, 0)


def test_deleting_a_customer_deletes_their_events(client, server):
    send(client, server, {"event_id": "e-1", "customer_id": "c-1", "item_id": "sku-1", "type": "view"})
    assert client.delete("/v1/customers/c-1", headers=server).status_code == 204
    assert client.get("/v1/items/sku-1", headers=server).json["counts"]["view"] == 0
