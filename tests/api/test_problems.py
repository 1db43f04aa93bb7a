"""Every error a client can cause is an RFC 9457 problem with a 4xx that says what is wrong."""

import pytest
from flask import Flask

from api import create_app
from api.errors import STATUS
from salesbot import errors
from salesbot.access import keys
from salesbot.access.roles import Role
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings

PROBLEM_FIELDS = {"type", "title", "status", "detail", "request_id"}


def assert_problem(response, status):
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert set(body) >= PROBLEM_FIELDS
    assert body["status"] == status
    return body


def every_error_class():
    found, todo = [], [errors.SalesbotError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return [cls for cls in found if cls is not errors.SalesbotError]


def test_every_error_class_has_a_status():
    assert set(every_error_class()) <= set(STATUS), "map the new error class in api/errors.py STATUS"


@pytest.mark.parametrize(("error_class", "status"), STATUS.items())
def test_each_error_class_answers_its_problem(app: Flask, error_class, status):
    app.add_url_rule(f"/raise/{error_class.__name__}", error_class.__name__, lambda: _raise(error_class))
    body = assert_problem(app.test_client().get(f"/raise/{error_class.__name__}"), status)
    assert body["detail"] == "what went wrong"
    assert body["title"] == error_class.title


def _raise(error_class):
    raise error_class("what went wrong")


def test_validation_names_each_bad_field(client, as_role):
    response = client.put(
        "/v1/items/sku-1",
        json={"title": "", "price": "-3", "currency": "EURO", "in_stock": "maybe", "colour": "red"},
        headers=as_role(Role.SERVER),
    )
    body = assert_problem(response, 422)
    assert set(body["errors"]) == {"title", "price", "currency", "in_stock", "colour"}
    assert "ISO 4217" in body["errors"]["currency"][0]
    assert "price" in body["detail"]


def test_missing_required_fields_are_named(client, as_role):
    body = assert_problem(client.put("/v1/items/sku-1", json={}, headers=as_role(Role.SERVER)), 422)
    assert set(body["errors"]) == {"title", "price", "currency"}


@pytest.mark.parametrize("payload", [b"{not json", b'{"title": "x"', b"\xff\xfe"])
def test_malformed_json_is_a_400(client, as_role, payload):
    response = client.put(
        "/v1/items/sku-1", data=payload, headers=as_role(Role.SERVER) | {"Content-Type": "application/json"}
    )
    assert "body" in assert_problem(response, 400)["errors"]


def test_a_json_array_instead_of_an_object_is_named(client, as_role):
    body = assert_problem(client.put("/v1/items/sku-1", json=[1, 2], headers=as_role(Role.SERVER)), 422)
    assert "body" in body["errors"]


def test_a_body_over_the_cap_is_a_413(sqlite_database_url):
    services = bootstrap(Settings(database_url=sqlite_database_url, max_body_bytes=2048))
    client = create_app(services=services).test_client()
    _key, secret = keys.create(uow=services.uow(), role="server", name="erp")
    body = {"title": "x" * 4096, "price": "1", "currency": "EUR"}
    response = client.put("/v1/items/sku-1", json=body, headers={"Authorization": f"Bearer {secret}"})
    assert_problem(response, 413)
    assert client.get("/v1/items/sku-1", headers={"Authorization": f"Bearer {secret}"}).status_code == 404
    services.close()


def test_unknown_routes_and_methods_are_problems(client, as_role):
    assert_problem(client.get("/v2/nothing"), 404)
    response = client.post("/v1/items/sku-1", json={}, headers=as_role(Role.SERVER))
    assert_problem(response, 405)
    assert "PUT" in response.headers["Allow"]


def test_an_unknown_item_is_a_404_naming_it(client, as_role):
    assert "nope" in assert_problem(client.get("/v1/items/nope", headers=as_role(Role.SERVER)), 404)["detail"]


def test_a_bad_id_in_the_path_is_named(client, as_role):
    item = {"title": "x", "price": "1", "currency": "EUR"}
    body = assert_problem(client.put("/v1/items/has%20space", json=item, headers=as_role(Role.SERVER)), 422)
    assert "item_id" in body["errors"]


def test_an_unmigrated_database_is_not_ready(tmp_path):
    services = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}"))
    client = create_app(services=services).test_client()
    assert "salesbot db upgrade" in assert_problem(client.get("/readyz"), 503)["detail"]
    assert client.get("/healthz").status_code == 200
    services.close()


def test_a_request_the_database_cannot_serve_is_a_503_to_retry(tmp_path):
    services = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'never-migrated.db'}"))
    client = create_app(services=services).test_client()
    response = client.get("/v1/items", headers={"Authorization": "Bearer sk_anything"})
    assert "try again" in assert_problem(response, 503)["detail"]
    assert response.headers["Retry-After"] == "1"
    services.close()


def test_the_request_id_is_echoed_and_in_the_problem(client):
    response = client.get("/v2/nothing", headers={"X-Request-ID": "shop-req-12345678"})
    assert response.headers["X-Request-ID"] == "shop-req-12345678"
    assert response.get_json(force=True)["request_id"] == "shop-req-12345678"
