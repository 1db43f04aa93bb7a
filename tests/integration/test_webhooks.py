"""Qualified leads reach CRMs: real HTTP receivers on loopback (allow-listed) verify every webhook with the
`standardwebhooks` library. The worker runs on a controllable clock, so the retry schedule is exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook, WebhookVerificationError

from models import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
from models.base import utcnow
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.webhooks import delivery, endpoints, outbox, urls
from tests.conftest import keyed_client
from tests.integration.test_conversations import say, start, stock
from tests.webhook_receiver import Receiver

LEAD = {"lead_id": "ld_1", "status": "qualified", "score": 75.0, "fields": {"name": "Maria Lopez", "company": "Acme",
        "email": "maria@acme.example", "budget": {"amount": 8000.0, "currency": "EUR"}}}  # fmt: skip


class Clock:
    """Real time, moved forward (or back) at will."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    @property
    def now(self) -> datetime:
        return self()

    def set(self, moment: datetime) -> None:
        self.offset += moment - self()

    def advance_to(self, moment: datetime) -> None:
        self.set(max(self(), moment))


@pytest.fixture
def shop(database_url):
    services = bootstrap(Settings(database_url=database_url, webhook_allow_networks=("127.0.0.0/8",)))
    stock(services)
    yield services
    services.close()


@pytest.fixture
def admin(shop):
    client = keyed_client(shop, "admin")
    return client


@pytest.fixture
def receiver():
    crm = Receiver()
    yield crm
    crm.stop()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def worker(shop, clock):
    runner = delivery.Worker(shop.uow, delivery.Sender(shop.webhook_guard, timeout=2), clock=clock, seed=1)
    yield runner
    runner.close()


def subscribe(admin, receiver, **body):
    response = admin.post("/v1/webhook-endpoints", json={"url": receiver.url} | body)
    assert response.status_code == 201, response.json
    receiver.secret = response.json["secret"]
    return response.json["id"]


def emit(shop, kind="lead.qualified", data=LEAD):
    with shop.uow() as uow:
        event = outbox.emit(uow.session, kind, data)
        uow.commit()
        return event.id


def deliveries(shop, **where):
    with shop.uow() as uow:
        query = select(Delivery).order_by(Delivery.id)
        for name, value in where.items():
            query = query.where(getattr(Delivery, name) == value)
        return list(uow.session.scalars(query))


def test_the_secret_is_shown_once_and_urls_are_checked(admin):
    created = admin.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/hooks", "format": "hubspot"})
    assert created.status_code == 201
    assert created.json["secret"].startswith("whsec_")
    shown = admin.get(f"/v1/webhook-endpoints/{created.json['id']}").json
    assert "secret" not in shown
    assert shown["format"] == "hubspot"
    for url, why in [
        ("https://10.1.2.3/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("ftp://example.com/", "https"),
        ("not a url", "https"),
    ]:
        refused = admin.post("/v1/webhook-endpoints", json={"url": url})
        assert refused.status_code == 422, url
        assert why in refused.json["errors"]["url"][0]
    wrong_type = admin.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/", "event_types": ["lead.eaten"]})
    assert wrong_type.status_code == 422
    assert "event_types.0" in wrong_type.json["errors"]
    assert len(admin.get("/v1/webhook-endpoints").json) == 1  # nothing half-written


def test_a_qualified_lead_reaches_the_crm_signed_with_what_a_rep_needs(shop, admin, receiver, worker):
    subscribe(admin, receiver, event_types=["lead.qualified"])
    chat = keyed_client(shop, "server")
    cid = start(chat)["conversation_id"]
    say(chat, cid, "I'm Maria from Acme, we need 5 laptops asap, budget 8000 EUR, I'm the CTO")
    assert worker.deliver_due() == 0  # not qualified yet: nothing to say
    say(chat, cid, "maria@acme.example")
    assert worker.deliver_due() == 1
    (payload,) = receiver.processed.values()
    assert payload["type"] == "lead.qualified"
    data = payload["data"]
    assert data["fields"]["email"] == "maria@acme.example"
    assert data["score"] == data["score_breakdown"]["total"] >= 60
    assert "visitor: maria@acme.example" in data["transcript_summary"]
    assert {item["item_id"] for item in data["recommended_items"]} <= {"lap-1", "lap-2"}
    assert data["links"]["conversation"].endswith(f"/v1/conversations/{cid}")
    (sent,) = deliveries(shop)
    assert sent.status == "succeeded"
    log = admin.get("/v1/deliveries?status=succeeded").json["deliveries"]
    assert log[0]["attempts_log"][0]["status_code"] == 200
    assert '"ok"' in log[0]["attempts_log"][0]["response_head"]


def test_retries_follow_the_schedule_with_the_same_webhook_id(shop, admin, receiver, worker, clock):
    subscribe(admin, receiver)
    receiver.script = [500, 503, 502, 200]
    emit(shop)
    gaps = []
    for _attempt in range(4):
        assert worker.deliver_due() == 1
        (pending,) = deliveries(shop)
        if pending.status == "succeeded":
            break
        gaps.append((pending.next_attempt_at - clock.now).total_seconds())
        clock.set(pending.next_attempt_at - timedelta(seconds=1))
        assert worker.deliver_due() == 0  # never early
        clock.advance_to(pending.next_attempt_at)
    assert [round(gap / expected, 1) for gap, expected in zip(gaps, delivery.SCHEDULE[1:4], strict=True)] == [
        pytest.approx(1.0, abs=0.11)
    ] * 3
    assert pending.status == "succeeded"
    assert len(set(receiver.deliveries_seen())) == 1  # one webhook-id for all four attempts
    assert receiver.deliveries_seen()[pending.id] == 4


def test_retry_after_is_honoured(shop, admin, receiver, worker, clock):
    subscribe(admin, receiver)
    receiver.script = [(429, {"Retry-After": "120"}), 200]
    emit(shop)
    worker.deliver_due()
    (waiting,) = deliveries(shop)
    assert (waiting.next_attempt_at - clock.now).total_seconds() > 119  # the schedule alone says 5 s


def test_410_disables_the_endpoint_and_says_why(shop, admin, receiver, worker):
    endpoint_id = subscribe(admin, receiver)
    receiver.script = [410]
    emit(shop)
    worker.deliver_due()
    shown = admin.get(f"/v1/webhook-endpoints/{endpoint_id}").json
    assert shown["enabled"] is False
    assert "410" in shown["disabled_reason"]
    emit(shop)  # later events wait for an enabled endpoint instead
    assert deliveries(shop, status="pending") == []


def test_an_endpoint_failing_for_five_days_is_disabled(shop, admin, receiver, worker, clock):
    endpoint_id = subscribe(admin, receiver)
    receiver.script = [500]
    with shop.uow() as uow:
        uow.session.get(WebhookEndpoint, endpoint_id).failing_since = clock.now - timedelta(days=5, seconds=1)
        uow.commit()
    emit(shop)
    worker.deliver_due()
    shown = admin.get(f"/v1/webhook-endpoints/{endpoint_id}").json
    assert shown["enabled"] is False
    assert "failed since" in shown["disabled_reason"]


def test_after_the_last_attempt_a_delivery_fails_and_can_be_retried(shop, admin, receiver, worker, clock):
    subscribe(admin, receiver)
    receiver.script = [500]
    emit(shop)
    for _attempt in delivery.SCHEDULE:
        assert worker.deliver_due() == 1
        (current,) = deliveries(shop)
        clock.advance_to(current.next_attempt_at)
    assert (current.status, current.attempts) == ("failed", len(delivery.SCHEDULE))
    receiver.script = [200]
    retried = admin.post(f"/v1/deliveries/{current.id}/retry")
    assert retried.status_code == 202
    assert worker.deliver_due() == 1
    assert deliveries(shop)[0].status == "succeeded"
    assert admin.post(f"/v1/deliveries/{current.id}/retry").status_code == 422  # only failed ones


def test_a_receiver_down_for_the_whole_run_loses_nothing(shop, admin, worker, clock):
    down = Receiver()
    down.stop()  # nothing listens there any more
    endpoint_id = subscribe(admin, down)
    started = clock.now
    for n in range(20):
        emit(shop, data=LEAD | {"lead_id": f"ld_{n}"})
    while worker.deliver_due():
        clock.advance_to(min(d.next_attempt_at for d in deliveries(shop, status="pending")) if
                         deliveries(shop, status="pending") else clock.now)  # fmt: skip
    assert {d.status for d in deliveries(shop)} == {"failed"}
    with shop.uow() as uow:
        errors = {a.error.split(":")[0] for a in uow.session.scalars(select(DeliveryAttempt))}
    assert errors  # connection refused, logged per attempt
    back = Receiver(secret=None)
    try:
        admin.patch(f"/v1/webhook-endpoints/{endpoint_id}", json={"url": back.url, "enabled": True})
        back.secret = down.secret
        replayed = admin.post(f"/v1/webhook-endpoints/{endpoint_id}/replay", json={"since": started.isoformat()})
        assert replayed.json == {"retried": 20, "added": 0}
        clock.set(utcnow())  # back to real time, which the receiver checks signatures against
        while worker.deliver_due():
            pass
        assert sorted(p["data"]["lead_id"] for p in back.processed.values()) == sorted(f"ld_{n}" for n in range(20))
    finally:
        back.stop()


def test_events_before_any_endpoint_are_sent_only_when_replayed(shop, admin, receiver, worker):
    before = utcnow() - timedelta(seconds=1)
    emit(shop)
    subscribe(admin, receiver)
    assert worker.deliver_due() == 0  # never silently sent
    endpoint_id = admin.get("/v1/webhook-endpoints").json[0]["id"]
    replayed = admin.post(f"/v1/webhook-endpoints/{endpoint_id}/replay", json={"since": before.isoformat()})
    assert replayed.json == {"retried": 0, "added": 1}
    assert worker.deliver_due() == 1
    assert len(receiver.processed) == 1


def test_during_a_rotation_old_and_new_secrets_both_verify(shop, admin, receiver, worker):
    endpoint_id = subscribe(admin, receiver)
    old = receiver.secret
    new = admin.post(f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret").json["secret"]
    assert new != old
    emit(shop)
    worker.deliver_due()
    (request,) = receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(request.body, request.headers)["type"] == "lead.qualified"


def test_signatures_fail_for_a_wrong_secret_a_changed_body_or_an_old_or_future_timestamp(shop, admin, receiver):
    endpoint_id = subscribe(admin, receiver)
    with shop.uow() as uow:
        endpoint = uow.session.get(WebhookEndpoint, endpoint_id)
    body = '{"type":"lead.qualified","data":{}}'

    def headers(moment):
        return {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": delivery.signature(endpoint, "msg_1", moment, body, now=moment),
        }

    now = datetime.now(UTC)
    assert Webhook(receiver.secret).verify(body, headers(now))
    assert Webhook(receiver.secret).verify(body, headers(now - timedelta(minutes=4)))
    for secret, text, moment in [
        (endpoints.new_secret(), body, now),
        (receiver.secret, body.replace("{}", '{"x":1}'), now),
        (receiver.secret, body, now - timedelta(minutes=6)),
        (receiver.secret, body, now + timedelta(minutes=6)),
    ]:
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(text, headers(moment))


def test_redirects_are_never_followed(shop, admin, receiver, worker):
    elsewhere = Receiver()
    try:
        subscribe(admin, receiver)
        receiver.script = [(302, {"Location": elsewhere.url})]
        emit(shop)
        worker.deliver_due()
        (sent,) = deliveries(shop)
        assert (sent.status, sent.last_status_code) == ("pending", 302)  # a failure, to be retried
        assert elsewhere.requests == []
    finally:
        elsewhere.stop()


@pytest.mark.parametrize("fmt", ["hubspot", "salesforce"])
def test_crm_shaped_payloads(shop, admin, receiver, worker, fmt):
    subscribe(admin, receiver, format=fmt)
    emit(shop)
    worker.deliver_due()
    (payload,) = receiver.processed.values()
    if fmt == "hubspot":
        assert payload["data"]["contact"]["properties"]["email"] == "maria@acme.example"
        assert payload["data"]["contact"]["properties"]["firstname"] == "Maria"
        assert payload["data"]["deal"]["properties"]["amount"] == 8000.0
    else:
        lead = payload["data"]["Lead"]
        assert (lead["FirstName"], lead["LastName"], lead["Company"]) == ("Maria", "Lopez", "Acme")
        assert lead["LeadSource"] == "salesbot"


def test_a_test_event_goes_to_one_endpoint_and_shows_in_the_log(shop, admin, receiver, worker):
    endpoint_id = subscribe(admin, receiver, event_types=["conversation.closed"])
    sent = admin.post(f"/v1/webhook-endpoints/{endpoint_id}/test")
    assert sent.status_code == 202
    worker.deliver_due()
    (payload,) = receiver.processed.values()
    assert payload["type"] == "webhook.test"
    listed = admin.get(f"/v1/deliveries?endpoint_id={endpoint_id}&event_type=webhook.test").json["deliveries"]
    assert [d["status"] for d in listed] == ["succeeded"]
    with shop.uow() as uow:
        assert uow.session.scalar(select(OutboxEvent.type)) == "webhook.test"


def test_hand_offs_and_closed_conversations_reach_the_crm(shop, admin, receiver, worker):
    subscribe(admin, receiver, event_types=["lead.handoff_requested", "conversation.closed"])
    chat = keyed_client(shop, "server")
    cid = start(chat)["conversation_id"]
    say(chat, cid, "I'd like to talk to a real person, I'm Bob from Initech")
    chat.post(f"/v1/conversations/{cid}/csat", json={"score": 5, "comment": "quick and friendly"})
    chat.post(f"/v1/conversations/{cid}/close")
    worker.deliver_due()
    by_type = {payload["type"]: payload["data"] for payload in receiver.processed.values()}
    assert set(by_type) == {"lead.handoff_requested", "conversation.closed"}  # lead.updated was not subscribed
    assert by_type["lead.handoff_requested"]["handoff_reason"] == "the visitor asked for a person"
    assert by_type["lead.handoff_requested"]["fields"]["company"] == "Initech"
    assert (by_type["conversation.closed"]["csat"], by_type["conversation.closed"]["csat_comment"]) == (
        5,
        "quick and friendly",
    )
    with shop.uow() as uow:
        kinds = set(uow.session.scalars(select(OutboxEvent.type)))
    assert kinds == {"lead.updated", "lead.handoff_requested", "conversation.closed"}


def test_an_endless_retry_after_is_capped(shop, admin, receiver, worker, clock):
    subscribe(admin, receiver)
    receiver.script = [(503, {"Retry-After": "1e13"}), 200]
    emit(shop)
    worker.deliver_due()
    (waiting,) = deliveries(shop)
    assert waiting.status == "pending"
    assert (waiting.next_attempt_at - clock.now).total_seconds() <= max(delivery.SCHEDULE) + 1


def test_international_host_names_go_out_as_punycode():
    target = urls.Target("https://bücher.example/h", "https", "bücher.example", 443, "/h", "93.184.216.34")
    assert delivery._host_header(target) == "xn--bcher-kva.example"


def test_a_delivery_whose_lease_ran_out_is_not_sent_twice(shop, admin, receiver, worker, clock):
    subscribe(admin, receiver)
    emit(shop)
    (claimed,) = worker.claim(10)
    clock.set(claimed.leased_until)  # the receivers before it were slow
    worker._deliver(claimed)
    assert receiver.requests == []  # left for the next claim, which sends it once
    assert worker.deliver_due() == 1
    assert len(receiver.requests) == 1
