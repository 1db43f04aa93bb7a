"""Batch upserts of items and customers: one bad row never blocks the good ones, re-sending changes nothing."""

from salesbot.access.roles import Role

ROW = {"title": "Tablet", "price": 199, "currency": "EUR"}


def test_an_item_batch_keeps_the_good_rows_and_names_the_bad(client, as_role):
    headers = as_role(Role.SERVER)
    rows = [
        ROW | {"item_id": "sku-1"},
        ROW | {"item_id": "sku-2", "price": -5},
        ROW | {"item_id": "sku-3", "currency": "EURO"},
        {"item_id": "sku-4", "price": 5, "currency": "EUR"},
        ROW | {"item_id": "sku-5", "attributes": {"color": "red"}, "in_stock": "no"},
    ]
    report = client.post("/v1/items/batch", json={"items": rows}, headers=headers).json
    assert (report["created"], report["rejected"]) == (2, 3)
    reasons = {error["index"]: error["reason"] for error in report["errors"]}
    assert "greater than or equal to 0" in reasons[1]
    assert "ISO 4217" in reasons[2]
    assert reasons[3] == "title is required"
    item = client.get("/v1/items/sku-5", headers=headers).json
    assert (item["in_stock"], item["attributes"]) == (False, {"color": "red"})
    assert client.get("/v1/items/sku-2", headers=headers).status_code == 404


def test_resending_a_batch_changes_nothing_and_a_change_is_an_update(client, as_role):
    headers = as_role(Role.SERVER)
    rows = [ROW | {"item_id": f"sku-{n}"} for n in range(3)]
    client.post("/v1/items/batch", json={"items": rows}, headers=headers)
    before = client.get("/v1/items/sku-0", headers=headers).json["updated_at"]
    again = client.post("/v1/items/batch", json={"items": rows}, headers=headers).json
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert client.get("/v1/items/sku-0", headers=headers).json["updated_at"] == before
    rows[0] = rows[0] | {"price": "149.00"}
    changed = client.post("/v1/items/batch", json={"items": rows}, headers=headers).json
    assert (changed["updated"], changed["unchanged"]) == (1, 2)
    assert client.get("/v1/items/sku-0", headers=headers).json["price"] == "149.00"


def test_a_customer_batch(client, as_role):
    headers = as_role(Role.SERVER)
    rows = [
        {"customer_id": "c-1", "country": "Germany", "email": "Ana@Example.com"},
        {"customer_id": "c-2", "country": "Atlantis"},
        {"customer_id": "c 3"},
        {"customer_id": "c-1", "segment": "b2b", "country": "de"},
    ]
    report = client.post("/v1/customers/batch", json={"customers": rows}, headers=headers).json
    assert (report["created"], report["duplicate"], report["rejected"]) == (1, 1, 2)
    assert "Atlantis" in report["errors"][0]["reason"]
    assert report["errors"][1]["index"] == 2
    customer = client.get("/v1/customers/c-1", headers=headers).json
    assert (customer["country"], customer["segment"], customer["email"]) == ("DE", "b2b", None)


def test_more_than_1000_rows_is_refused(client, as_role):
    rows = [ROW | {"item_id": f"sku-{n}"} for n in range(1001)]
    response = client.post("/v1/items/batch", json={"items": rows}, headers=as_role(Role.SERVER))
    assert response.status_code == 422
    assert "not 1001" in response.json["errors"]["items"][0]
