"""Each key has a request budget; site keys have one per client address; Redis shares it across processes."""

import os

import pytest
import redis

from api import create_app
from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings

REDIS_URL = os.environ.get("SALESBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def make_app(database_url, **settings):
    services = bootstrap(Settings(database_url=database_url, cors_origins=("https://shop.example",), **settings))
    return create_app(services=services), services


def bearer(services, role):
    return {"Authorization": f"Bearer {keys.create(uow=services.uow(), role=role, name=role)[1]}"}


def test_a_key_over_its_budget_gets_a_429_problem_with_retry_after(sqlite_database_url):
    app, services = make_app(sqlite_database_url, rate_limit="3/minute")
    client, headers = app.test_client(), bearer(services, "server")
    answers = [client.get("/v1/items", headers=headers) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert "Retry-After" not in answers[0].headers
    assert answers[0].headers["X-RateLimit-Remaining"] == "2"
    limited = client.get("/v1/items", headers=headers)
    assert limited.mimetype == "application/problem+json"
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    # Another key still has its own budget.
    assert client.get("/v1/items", headers=bearer(services, "server")).status_code == 200


def test_site_keys_are_limited_per_visitor_address(sqlite_database_url):
    app, services = make_app(sqlite_database_url, site_rate_limit="2/minute")
    client, headers = app.test_client(), bearer(services, "site")

    def from_address(address):
        body = {"events": [{"visitor_id": "v-1", "item_id": "sku-1", "type": "view"}]}
        return client.post("/v1/events", json=body, headers=headers, environ_base={"REMOTE_ADDR": address}).status_code

    assert [from_address("203.0.113.7") for _ in range(3)] == [202, 202, 429]
    assert from_address("198.51.100.9") == 202  # another visitor is not held back by the first


def test_health_and_docs_are_never_limited(sqlite_database_url):
    app, _services = make_app(sqlite_database_url, rate_limit="1/minute")
    client = app.test_client()
    assert {client.get("/healthz").status_code for _ in range(5)} == {200}


@pytest.fixture
def redis_url():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis answering at {REDIS_URL} (set SALESBOT_TEST_REDIS_URL)")
    return REDIS_URL


@pytest.mark.redis
def test_processes_sharing_redis_share_the_budget(sqlite_database_url, redis_url):
    first, services = make_app(sqlite_database_url, rate_limit="3/minute", redis_url=redis_url)
    second, _ = make_app(sqlite_database_url, rate_limit="3/minute", redis_url=redis_url)
    headers = bearer(services, "server")
    statuses = [app.test_client().get("/v1/items", headers=headers).status_code for app in (first, second) * 2]
    assert statuses == [200, 200, 200, 429]


def test_visitors_still_get_answers_while_the_shared_counters_are_down(sqlite_database_url):
    """Redis unreachable (nothing listens on port 1): requests are let through, never a 500."""
    app, services = make_app(sqlite_database_url, redis_url="redis://127.0.0.1:1/0")
    client, headers = app.test_client(), bearer(services, "server")
    assert client.get("/v1/items", headers=headers).status_code == 200
    cid = client.post("/v1/conversations", json={"visitor_id": "v-1"}, headers=headers).get_json()["conversation_id"]
    answer = client.post(f"/v1/conversations/{cid}/messages", json={"text": "we need tablets"}, headers=headers)
    assert answer.status_code == 200
    services.close()
