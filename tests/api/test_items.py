"""The store back end keeps its catalog through /v1/items and /v1/customers."""

import pytest

from salesbot.access.roles import Role

TABLET = {
    "title": "Tablet 10",
    "description": "A 10 inch tablet",
    "category": "tablets",
    "brand": "Acme",
    "price": 199.9,
    "currency": "eur",
    "in_stock": True,
    "attributes": {"color": "black", "storage_gb": 64, "tags": ["kids", "school"]},
}


@pytest.fixture
def server(as_role):
    return as_role(Role.SERVER)


def test_an_item_put_is_the_item_got(client, server):
    put = client.put("/v1/items/sku-1", json=TABLET, headers=server)
    assert put.status_code == 200
    got = client.get("/v1/items/sku-1", headers=server).json
    counts = got.pop("counts")
    assert got == put.json
    assert counts == {"view": 0, "click": 0, "add_to_cart": 0, "purchase": 0, "rating": 0}
    assert got["price"] == "199.90"
    assert got["currency"] == "EUR"
    assert got["attributes"] == TABLET["attributes"]
    assert got["item_id"] == "sku-1"


def test_prices_keep_their_exact_decimals(client, server):
    client.put("/v1/items/sku-1", json=TABLET | {"price": "0.1234"}, headers=server)
    assert client.get("/v1/items/sku-1", headers=server).json["price"] == "0.1234"


def test_listing_pages_with_a_cursor_and_filters(client, server):
    for n in range(5):
        client.put(f"/v1/items/sku-{n}", json=TABLET | {"in_stock": n != 3}, headers=server)
    first = client.get("/v1/items?page_size=2", headers=server).json
    assert [i["item_id"] for i in first["items"]] == ["sku-0", "sku-1"]
    second = client.get(f"/v1/items?page_size=2&cursor={first['next_cursor']}", headers=server).json
    assert [i["item_id"] for i in second["items"]] == ["sku-2", "sku-3"]
    last = client.get(f"/v1/items?page_size=2&cursor={second['next_cursor']}", headers=server).json
    assert [i["item_id"] for i in last["items"]] == ["sku-4"]
    assert last["next_cursor"] is None
    in_stock = client.get("/v1/items?in_stock=false", headers=server).json
    assert [i["item_id"] for i in in_stock["items"]] == ["sku-3"]


@pytest.mark.parametrize("page_size", [0, 201, -1, "ten"])
def test_page_size_is_capped_and_named(client, server, page_size):
    response = client.get(f"/v1/items?page_size={page_size}", headers=server)
    assert response.status_code == 422
    assert "page_size" in response.json["errors"]


def test_deleting_an_item(client, server):
    client.put("/v1/items/sku-1", json=TABLET, headers=server)
    assert client.delete("/v1/items/sku-1", headers=server).status_code == 204
    assert client.get("/v1/items/sku-1", headers=server).status_code == 404
    assert client.delete("/v1/items/sku-1", headers=server).status_code == 404


def test_a_rejected_put_changes_nothing(client, server):
    client.put("/v1/items/sku-1", json=TABLET, headers=server)
    refused = client.put("/v1/items/sku-1", json=TABLET | {"title": "Cheaper", "price": -1}, headers=server)
    assert refused.status_code == 422
    assert client.get("/v1/items/sku-1", headers=server).json["title"] == "Tablet 10"


def test_a_customer_round_trip(client, server):
    body = {"segment": "b2b", "country": "de", "email": "Maria@Acme.Example", "attributes": {"plan": "pro"}}
    put = client.put("/v1/customers/c-1", json=body, headers=server)
    assert put.status_code == 200
    got = client.get("/v1/customers/c-1", headers=server).json
    assert got == put.json
    assert (got["country"], got["email"], got["attributes"]) == ("DE", "maria@acme.example", {"plan": "pro"})
    assert client.delete("/v1/customers/c-1", headers=server).status_code == 204
    assert client.get("/v1/customers/c-1", headers=server).status_code == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not-an-email"), ("country", "Germany"), ("segment", ""), ("attributes", {"a": {"b": 1}})],
)
def test_customer_validation_names_the_field(client, server, field, value):
    response = client.put("/v1/customers/c-1", json={field: value}, headers=server)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {field}
