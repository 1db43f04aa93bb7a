"""The README's promise, end to end: gunicorn serves the app, a CLI-made key works over real HTTP."""

import json


def test_a_cli_key_reads_and_writes_items_over_http(live_server):
    secret = live_server.salesbot("keys", "create", "--role", "admin").stdout.strip()
    body = json.dumps({"title": "Tablet", "price": "249.00", "currency": "EUR"}).encode()
    status, _headers, item = live_server.request("PUT", "/v1/items/sku-1", key=secret, body=body)
    assert (status, item["price"]) == (200, "249.00")
    status, _headers, page = live_server.request("GET", "/v1/items", key=secret)
    assert status == 200
    assert [i["item_id"] for i in page["items"]] == ["sku-1"]


def test_ready_and_problems_over_http(live_server):
    status, _headers, ready = live_server.request("GET", "/readyz")
    assert (status, ready["status"]) == (200, "ready")
    status, headers, problem = live_server.request("PUT", "/v1/items/sku-1", key="sk_nope", body=b"{}")
    assert status == 401
    assert headers["Content-Type"] == "application/problem+json"
    assert problem["title"] == "Unauthenticated"


def test_bad_input_over_http_is_a_named_422(live_server):
    secret = live_server.salesbot("keys", "create", "--role", "server").stdout.strip()
    body = json.dumps({"title": "Tablet", "price": "cheap", "currency": "EUR"}).encode()
    status, _headers, problem = live_server.request("PUT", "/v1/items/sku-2", key=secret, body=body)
    assert status == 422
    assert list(problem["errors"]) == ["price"]


def test_a_too_long_url_over_http_is_a_problem_not_the_servers_html_page(live_server):
    secret = live_server.salesbot("keys", "create", "--role", "server").stdout.strip()
    status, headers, problem = live_server.request("GET", "/v1/items/" + "a" * 20_000, key=secret)
    assert status == 414
    assert headers["Content-Type"] == "application/problem+json"
    assert "longer than" in problem["detail"]
