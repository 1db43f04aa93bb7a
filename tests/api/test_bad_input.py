"""Whatever a careless or hostile client sends gets a 4xx problem that names the field, and nothing is stored."""

import gzip
import json

import pytest

from salesbot.access.roles import Role
from tests.api.test_problems import assert_problem
from tests.conftest import ORIGIN

ITEM = {"title": "Tablet 10", "price": "199.90", "currency": "EUR"}


def send(client, method, path, raw: str, headers, content_type="application/json"):
    return client.open(path, method=method, data=raw.encode(), content_type=content_type, headers=headers)


@pytest.fixture
def server(as_role):
    return as_role(Role.SERVER)


@pytest.fixture
def marketer(as_role):
    return as_role(Role.MARKETER)


LONE = "\ud800"


@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("PUT", "/v1/items/sku-1", ITEM | {"title": f"Tab{LONE}"}, "title"),
        ("PUT", "/v1/items/sku-1", ITEM | {"attributes": {"k": "\udfff"}}, "attributes.k"),
        ("POST", "/v1/items/batch", {"items": [ITEM | {"item_id": f"a{LONE}"}]}, "items.0.item_id"),
        ("PUT", "/v1/customers/c-1", {"segment": "vip\ud83d"}, "segment"),
        ("POST", "/v1/customers/batch", {"customers": [{"customer_id": "c-1", "segment": "\udc00"}]},
         "customers.0.segment"),
        ("POST", "/v1/events", {"events": [{"event_id": f"e{LONE}", "item_id": "i", "type": "view", "visitor_id": "v"}]},  # noqa: E501,
         "events.0.event_id"),
        ("POST", "/v1/conversations", {"visitor_id": f"v{LONE}"}, "visitor_id"),
    ],
)  # fmt: skip
def test_lone_surrogates_are_refused_naming_the_field(client, server, method, path, payload, field):
    body = assert_problem(send(client, method, path, json.dumps(payload), server), 422)
    assert field in body["errors"]
    assert "surrogate" in body["errors"][field][0]


def test_faqs_and_csat_comments_with_lone_surrogates_are_refused(client, marketer, server):
    body = assert_problem(send(client, "POST", "/v1/faqs", '{"question": "Q\\ud800?", "answer": "A"}', marketer), 422)
    assert "question" in body["errors"]
    assert client.get("/v1/faqs", headers=marketer).get_json() == []
    started = client.post("/v1/conversations", json={"visitor_id": "v-1"}, headers=server).get_json()
    path = f"/v1/conversations/{started['conversation_id']}/csat"
    body = assert_problem(send(client, "POST", path, '{"score": 4, "comment": "ok\\ud800"}', server), 422)
    assert "comment" in body["errors"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused_everywhere_attributes_included(client, server, literal):
    raw = json.dumps(ITEM | {"attributes": {"weight": "@"}}).replace('"@"', literal)
    body = assert_problem(send(client, "PUT", "/v1/items/sku-1", raw, server), 422)
    assert "attributes.weight" in body["errors"]
    assert client.get("/v1/items/sku-1", headers=server).status_code == 404


def test_every_page_holding_a_row_stays_valid_json(client, server):
    client.put("/v1/items/sku-1", json=ITEM | {"attributes": {"weight": 1.5}}, headers=server)
    raw = client.get("/v1/items", headers=server).get_data(as_text=True)
    assert json.loads(raw, parse_constant=lambda name: pytest.fail(f"{name} in an answer"))["items"][0]["item_id"]


def test_deeply_nested_json_is_refused_not_a_crash(client, server):
    raw = '{"title": "T", "price": "1", "currency": "EUR", "attributes": {"k": ' + "[" * 1000 + "]" * 1000 + "}}"
    body = assert_problem(send(client, "PUT", "/v1/items/sku-1", raw, server), 422)
    assert "nested" in body["detail"]


def test_huge_integers_are_refused_naming_the_field(client, server):
    raw = json.dumps(ITEM | {"price": "@"}).replace('"@"', "9" * 5000)
    body = assert_problem(send(client, "PUT", "/v1/items/sku-1", raw, server), 422)
    assert "price" in body["errors"]


def test_a_batch_whose_every_time_is_a_boolean_is_reported_row_by_row(client, server):
    client.put("/v1/items/sku-1", json=ITEM, headers=server)
    events = [{"customer_id": "c-1", "item_id": "sku-1", "type": "view", "occurred_at": flag} for flag in (True, False)]
    answer = client.post("/v1/events", json={"events": events}, headers=server)
    assert answer.status_code == 202
    assert [error["index"] for error in answer.get_json()["errors"]] == [0, 1]
    assert all("occurred_at" in error["reason"] for error in answer.get_json()["errors"])


def test_nul_characters_are_refused_in_bodies_paths_and_queries(client, server):
    body = assert_problem(send(client, "PUT", "/v1/items/sku-1", json.dumps(ITEM | {"title": "a\x00b"}), server), 422)
    assert "NUL" in body["errors"]["title"][0]
    assert "item_id" in assert_problem(client.get("/v1/items/sku%00x", headers=server), 422)["errors"]
    assert "category" in assert_problem(client.get("/v1/items?category=a%00", headers=server), 422)["errors"]


def test_wrong_content_types_get_415(client, server):
    answer = client.put("/v1/items/sku-1", data=json.dumps(ITEM), content_type="text/plain", headers=server)
    assert "application/json" in assert_problem(answer, 415)["detail"]
    form = client.put("/v1/items/sku-1", data={"title": "T"}, headers=server)
    assert_problem(form, 415)


def test_compressed_bodies_are_refused_with_415(client, server):
    packed = gzip.compress(json.dumps(ITEM).encode())
    answer = client.put(
        "/v1/items/sku-1", data=packed, content_type="application/json", headers=server | {"Content-Encoding": "gzip"}
    )
    assert "uncompressed" in assert_problem(answer, 415)["detail"]
    assert client.get("/v1/items/sku-1", headers=server).status_code == 404


def test_too_long_urls_get_a_problem_not_an_html_page(client, server):
    assert_problem(client.get("/v1/items/" + "a" * 9000, headers=server), 414)


def test_ids_with_a_slash_are_refused_so_every_stored_id_can_be_read_back(client, server):
    body = client.post("/v1/items/batch", json={"items": [ITEM | {"item_id": "a/b"}]}, headers=server).get_json()
    assert body["rejected"] == 1
    assert "no /" in body["errors"][0]["reason"]
    assert_problem(client.put("/v1/items/a%2Fb", json=ITEM, headers=server), 404)
    answer = client.post("/v1/customers/batch", json={"customers": [{"customer_id": "c/1"}]}, headers=server)
    assert answer.get_json()["rejected"] == 1


def test_csat_must_be_a_whole_number(client, server):
    started = client.post("/v1/conversations", json={"visitor_id": "v-1"}, headers=server).get_json()
    path = f"/v1/conversations/{started['conversation_id']}/csat"
    assert "score" in assert_problem(client.post(path, json={"score": 3.5}, headers=server), 422)["errors"]
    assert client.post(path, json={"score": 4}, headers=server).get_json()["csat"] == 4


@pytest.mark.parametrize(
    ("value", "problem"),
    [(2.5, "whole number"), (0, "positive"), (1_000_000, "at most"), (-3, "positive")],
)
def test_purchase_quantities_are_whole_and_bounded(client, server, value, problem):
    client.put("/v1/items/sku-1", json=ITEM, headers=server)
    event = {"customer_id": "c-1", "item_id": "sku-1", "type": "purchase", "value": value}
    report = client.post("/v1/events", json={"events": [event]}, headers=server).get_json()
    assert report["accepted"] == 0
    assert problem in report["errors"][0]["reason"]


@pytest.mark.parametrize(
    ("occurred_at", "problem"),
    [
        ("0000-01-01T00:00:00Z", "1970"),
        ("1969-12-31T23:59:59Z", "1970"),
        (1700000000, "not a date"),
        ("1700000000", "not a date"),
        ("2999-01-01T00:00:00Z", "future"),
    ],
)
def test_event_times_outside_a_sane_window_are_refused(client, server, occurred_at, problem):
    client.put("/v1/items/sku-1", json=ITEM, headers=server)
    event = {"customer_id": "c-1", "item_id": "sku-1", "type": "view", "occurred_at": occurred_at}
    report = client.post("/v1/events", json={"events": [event]}, headers=server).get_json()
    assert report["accepted"] == 0
    assert problem in report["errors"][0]["reason"]
    assert client.get("/v1/customers/c-1/events", headers=server).status_code in (200, 404)


def test_numbers_where_ids_belong_are_read_or_refused_never_a_crash(client, server):
    client.put("/v1/items/sku-1", json=ITEM, headers=server)
    batch = [
        {"event_id": 1e300, "visitor_id": "v", "item_id": "sku-1", "type": "view"},
        {"event_id": 2.0, "visitor_id": "v", "item_id": "sku-1", "type": "view"},
    ]
    report = client.post("/v1/events", json={"events": batch}, headers=server).get_json()
    assert (report["accepted"], [error["index"] for error in report["errors"]]) == (1, [0])


def test_a_site_keys_events_with_an_object_for_a_customer_id_are_rejected_row_by_row(client, as_role):
    """Found by the fuzzer: the site key's customer check met a customer_id that was not text."""
    event = {"customer_id": {}, "item_id": "sku-1", "type": "view"}
    report = client.post("/v1/events", json={"events": [event]}, headers=as_role(Role.SITE) | {"Origin": ORIGIN})
    assert report.status_code == 202
    assert report.get_json()["rejected"] == 1


def test_an_faq_without_a_word_to_index_is_stored_and_answers_nothing(client, as_role):
    """Found by the fuzzer: an FAQ reading "0" alone left the word index nothing to weigh (a 500)."""
    marketer = as_role(Role.MARKETER)
    assert client.post("/v1/faqs", json={"question": "0", "answer": "0"}, headers=marketer).status_code == 201
    server = as_role(Role.SERVER)
    cid = client.post("/v1/conversations", json={"visitor_id": "v-1"}, headers=server).get_json()["conversation_id"]
    turn = client.post(f"/v1/conversations/{cid}/messages", json={"text": "how long is shipping?"}, headers=server)
    assert turn.status_code == 200
    assert turn.get_json()["reply"]["faq_ids"] == []
