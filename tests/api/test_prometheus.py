"""An operator's Prometheus reads /metrics without a key: request latency by route template, turns by brain, LLM
calls, the webhook queue, the active model and open streams, and nothing about customers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from api import create_app
from models import Delivery
from models.base import utcnow
from salesbot.access.roles import Role
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.recommender import versions
from salesbot.webhooks import outbox
from tests.conftest import keyed_client
from tests.integration.test_conversations import stock
from tests.llm_server import Status

REQUESTS = "salesbot_http_request_duration_seconds"


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def value(text: str, name: str, **labels: str) -> float:
    """The sample `name` with exactly these labels (0 when absent, as Prometheus treats a series not yet seen)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def served(text: str, route: str, method: str, status: str) -> float:
    return value(text, f"{REQUESTS}_count", route=route, method=method, status=status)


def test_requests_are_counted_by_route_template_and_status(client, as_role):
    before = scrape(client)
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
    for n in range(3):
        assert client.get(f"/v1/items/sku-{n}", headers=as_role(Role.SERVER)).status_code == 404
    client.get("/no/such/page/42")
    after = scrape(client)
    assert served(after, "/healthz", "GET", "200") - served(before, "/healthz", "GET", "200") == 5
    item = "/v1/items/<item_id>"
    assert served(after, item, "GET", "404") - served(before, item, "GET", "404") == 3
    assert served(after, "unmatched", "GET", "404") - served(before, "unmatched", "GET", "404") == 1
    assert "sku-1" not in after  # ids never become labels
    assert "/no/such/page" not in after


def test_metrics_need_no_key_and_are_neither_rate_limited_nor_documented(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response.headers
    assert "/metrics" not in client.get("/openapi.json").json["paths"]


def test_a_rules_turn_counts_under_rules_and_no_customer_shows(services):
    stock(services)
    chat = keyed_client(services, "server")
    before = scrape(chat)
    started = chat.post("/v1/conversations", json={"customer_id": "cust-4711", "visitor_id": "visitor-0815"})
    assert started.status_code == 201, started.json
    said = "we need tablets for maria@acme.example"
    conversation_id = started.json["conversation_id"]
    assert chat.post(f"/v1/conversations/{conversation_id}/messages", json={"text": said}).status_code == 200
    after = scrape(chat)
    turns = "salesbot_conversation_turns_total"
    assert value(after, turns, brain="rules") - value(before, turns, brain="rules") == 1
    for private in ("cust-4711", "visitor-0815", conversation_id, "maria@acme.example", "tablets", "Bearer"):
        assert private not in after


def test_a_failing_llm_is_counted_by_error_class_and_its_fallback(sqlite_database_url, llm):
    services = bootstrap(Settings(database_url=sqlite_database_url, llm_base_url=llm.base_url, llm_max_retries=0))
    stock(services)
    chat = keyed_client(services, "server")
    llm.script = [Status(500)]
    before = scrape(chat)
    conversation_id = chat.post("/v1/conversations", json={"visitor_id": "v-1"}).json["conversation_id"]
    assert chat.post(f"/v1/conversations/{conversation_id}/messages", json={"text": "hello"}).status_code == 200
    after = scrape(chat)
    services.close()

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("salesbot_llm_errors_total", call="turn", error="InternalServerError") == 1
    assert grew("salesbot_llm_request_duration_seconds_count", call="turn") == 1
    assert grew("salesbot_llm_fallbacks_total", reason="error") == 1
    assert grew("salesbot_conversation_turns_total", brain="rules") == 1


@pytest.fixture
def shop(database_url):
    """Services and an admin's client, on SQLite and on PostgreSQL."""
    services = bootstrap(Settings(database_url=database_url, webhook_allow_networks=("127.0.0.0/8",)))
    yield services, keyed_client(services, "admin")
    services.close()


def test_the_webhook_queue_gauges_match_the_deliveries_waiting(shop):
    services, admin = shop
    made = admin.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/crm"})
    assert made.status_code == 201, made.json
    assert value(scrape(admin), "salesbot_webhook_deliveries", state="waiting") == 0
    with services.uow() as uow:
        events = [outbox.emit(uow.session, "lead.qualified", {"lead_id": f"ld_{n}"}) for n in range(4)]
        uow.commit()
    with services.uow() as uow:
        late = utcnow() - timedelta(minutes=10)
        uow.session.execute(update(Delivery).where(Delivery.event_id == events[0].id).values(next_attempt_at=late))
        uow.session.execute(update(Delivery).where(Delivery.event_id == events[1].id).values(status="failed"))
        uow.commit()
    text = scrape(admin)
    assert value(text, "salesbot_webhook_deliveries", state="waiting") == 3
    assert value(text, "salesbot_webhook_deliveries", state="failed") == 1
    assert 600 <= value(text, "salesbot_webhook_lag_seconds") < 660
    assert value(text, "salesbot_database_up") == 1


def test_the_active_model_version_appears_once_activated(shop):
    services, admin = shop
    assert "salesbot_active_model_info" not in scrape(admin)
    version = versions.start(uow=services.uow(), params={}, status="ready")
    activated = admin.post(f"/v1/models/{version.id}/activate")
    assert activated.status_code == 200, activated.json
    assert value(scrape(admin), "salesbot_active_model_info", version_id=version.id) == 1


def test_an_open_stream_is_counted_until_it_closes(client, as_role):
    before = value(scrape(client), "salesbot_open_streams", stream="inbox")
    stream = client.get("/v1/inbox/stream", headers=as_role(Role.REP), buffered=False)
    assert stream.status_code == 200
    next(iter(stream.response))  # the first event: the stream is open
    assert value(scrape(client), "salesbot_open_streams", stream="inbox") == before + 1
    stream.close()
    assert value(scrape(client), "salesbot_open_streams", stream="inbox") == before


@pytest.fixture
def guarded(settings):
    """The app with scraping allowed from 10.0.0.0/8 only, behind one proxy."""
    services = bootstrap(Settings(database_url=settings.database_url, metrics_allow_networks=("10.0.0.0/8",),
                                  trusted_proxies=1))  # fmt: skip
    yield create_app(services=services).test_client()
    services.close()


def test_a_scraper_outside_the_allowed_networks_gets_403(guarded):
    refused = guarded.get("/metrics", headers={"X-Forwarded-For": "192.0.2.7"})
    assert refused.status_code == 403
    assert refused.content_type == "application/problem+json"
    assert "SALESBOT_METRICS_ALLOW_NETWORKS" in refused.json["detail"]
    assert guarded.get("/metrics").status_code == 403  # the test client's own 127.0.0.1 is outside too
    assert guarded.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"}).status_code == 200


def test_a_bad_network_is_named_at_start():
    with pytest.raises(Exception, match="SALESBOT_METRICS_ALLOW_NETWORKS"):
        Settings.from_env({"SALESBOT_METRICS_ALLOW_NETWORKS": "10.0.0.0/8,not-a-network"})


def test_a_client_cannot_mint_series_with_made_up_methods(client):
    client.open("/healthz", method="BREW")
    scraped = client.get("/metrics").text
    assert 'method="BREW"' not in scraped
    assert 'method="other"' in scraped
