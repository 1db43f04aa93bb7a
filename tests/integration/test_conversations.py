"""Whole conversations through the API with the rules brain, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from models import LeadChange
from salesbot.access import identity, keys
from salesbot.bootstrap import bootstrap
from salesbot.catalog import customers, events, items
from salesbot.config import Settings
from salesbot.conversation import faqs
from salesbot.logs import configure_logging
from tests.conftest import keyed_client

PRODUCTS = [
    ("tab-1", "Tablet Lite", "tablets", "199"),
    ("tab-2", "Tablet Pro", "tablets", "649"),
    ("tab-3", "Tablet Max", "tablets", "1299"),
    ("lap-1", "Laptop Air", "laptops", "999"),
    ("lap-2", "Laptop Studio", "laptops", "2499"),
]


def stock(services) -> None:
    for item_id, title, category, price in PRODUCTS:
        items.put(uow=services.uow(), item_id=item_id, title=title, category=category, price=price, currency="EUR")
    faqs.create(uow=services.uow(), question="How long does shipping take?", answer="Orders ship within 2 days.")
    faqs.create(uow=services.uow(), question="Can I return a product?", answer="Yes, within 30 days, for free.")


@pytest.fixture
def shop(database_url):
    services = bootstrap(Settings(database_url=database_url, conversation_rate_limit="50/minute"))
    stock(services)
    yield services
    services.close()


@pytest.fixture
def chat(shop):
    return keyed_client(shop)


def start(chat, **body):
    response = chat.post("/v1/conversations", json={"visitor_id": "v-1"} | body)
    assert response.status_code == 201, response.json
    return response.json


def say(chat, conversation_id, text, status=200):
    response = chat.post(f"/v1/conversations/{conversation_id}/messages", json={"text": text})
    assert response.status_code == status, response.json
    return response.json


def test_volunteered_facts_are_all_captured_and_the_lead_qualifies(chat, shop):
    opening = start(chat)
    assert opening["reply"]["asks"] == "need"
    assert set(opening["reply"]["quick_replies"]) == {"laptops", "tablets"}
    cid = opening["conversation_id"]

    turn = say(chat, cid, "Hi, I'm Maria from Acme, we need 40 tablets by March")
    fields = turn["lead"]["fields"]
    assert fields["name"] == "Maria"
    assert fields["company"] == "Acme"
    assert fields["need"]["category"] == "tablets"
    assert fields["timeline"]["due_date"].endswith("-03-31")
    assert turn["reply"]["asks"] == "budget"  # the first required field still unknown
    assert turn["lead"]["missing"] == ["budget", "authority", "email"]
    assert {i["item_id"] for i in turn["reply"]["items"]} == {"tab-1", "tab-2", "tab-3"}

    turn = say(chat, cid, "about 700 EUR")
    assert turn["lead"]["fields"]["budget"] == {"amount": 700.0, "currency": "EUR", "period": None}
    assert {i["item_id"] for i in turn["reply"]["items"]} == {"tab-1", "tab-2"}  # the budget caps the price

    turn = say(chat, cid, "I'm the head of purchasing, I decide")
    assert turn["lead"]["fields"]["authority"] == {"role": "head of purchasing", "decision_maker": True}
    assert turn["lead"]["status"] == "qualifying"

    turn = say(chat, cid, "maria.lopez@ACME.com")
    assert turn["lead"]["fields"]["email"] == "maria.lopez@acme.com"
    assert turn["lead"]["missing"] == []
    assert turn["lead"]["status"] == "qualified"
    breakdown = turn["lead"]["score_breakdown"]
    assert breakdown["fields"]["budget"]["points"] == 20
    assert breakdown["fields"]["timeline"]["points"] == 0  # March is more than the rule's 90 days away
    assert "max_days 90" in breakdown["fields"]["timeline"]["why"]
    assert turn["lead"]["score"] == breakdown["total"] == 65
    with shop.uow() as uow:
        moves = [(c.from_status, c.to_status) for c in uow.session.scalars(select(LeadChange).order_by(LeadChange.id))]
    assert moves == [("new", "qualifying"), ("qualifying", "qualified")]

    transcript = chat.get(f"/v1/conversations/{cid}").json
    assert [m["author"] for m in transcript["messages"]] == ["bot"] + ["visitor", "bot"] * 4
    assert transcript["lead"]["status"] == "qualified"


def test_questions_are_answered_from_the_faq_with_its_id(chat, shop):
    cid = start(chat)["conversation_id"]
    shipping = next(f for f in faqs.get_all(uow=shop.uow()) if "shipping" in f.question)
    turn = say(chat, cid, "how long will shipping take?")
    assert turn["reply"]["text"].startswith("Orders ship within 2 days.")
    assert turn["reply"]["faq_ids"] == [shipping.id]
    assert turn["reply"]["asks"] == "need"  # and the bot goes back to qualifying

    unknown = say(chat, cid, "do you sell gift cards for horses?")
    assert "don't know" in unknown["reply"]["text"]
    assert unknown["reply"]["faq_ids"] == []
    assert "Talk to a person" in unknown["reply"]["quick_replies"]


def test_what_a_visitor_tells_around_a_question_is_context_not_the_answer(chat):
    """Real shoppers' questions (Amazon appliance Q&A) come with their story and part numbers; none of it may
    become the lead's need or budget, while a need said as such beside a question still counts."""
    cid = start(chat)["conversation_id"]
    turn = say(chat, cid, "I have a Maytag washer. It takes forever to fill. Can you give me the GPM stats?")
    assert turn["lead"]["fields"].get("need") is None
    assert turn["reply"]["asks"] == "need"
    turn = say(chat, cid, "The bin has a number of DA63-05391, what is the replacement?")
    assert turn["lead"]["fields"].get("budget") is None
    assert turn["lead"]["fields"].get("need") is None
    turn = say(chat, cid, "your part comes with the thermostat? or as shown in the picture?")
    assert turn["lead"]["fields"].get("need") is None

    said = say(chat, cid, "We need 5 laptops. Do you deliver on Saturdays?")
    assert said["lead"]["fields"]["need"]["category"] == "laptops"


def test_an_answer_that_does_not_parse_is_asked_again_then_a_human_takes_over(chat):
    cid = start(chat)["conversation_id"]
    say(chat, cid, "we need laptops")
    again = say(chat, cid, "hmm, not sure")
    assert again["reply"]["asks"] == "budget"
    assert "amount" in again["reply"]["text"]
    assert again["conversation_status"] == "open"
    lost = say(chat, cid, "blue")
    assert lost["conversation_status"] == "awaiting_human"
    assert lost["handoff_reason"] == "the bot did not understand twice in a row"
    assert lost["lead"]["status"] == "handed_off"


def test_asking_for_a_person_hands_off_and_keeps_what_was_said(chat):
    cid = start(chat)["conversation_id"]
    turn = say(chat, cid, "Can I talk to a real person? my email is bob@example.org")
    assert turn["conversation_status"] == "awaiting_human"
    assert turn["handoff_reason"] == "the visitor asked for a person"
    assert turn["lead"]["fields"]["email"] == "bob@example.org"
    assert "colleague" in turn["reply"]["text"]


def test_a_hot_lead_is_handed_to_a_rep(chat, shop):
    shop_schema = chat.get("/v1/qualification-schema")  # a server key may not read it
    assert shop_schema.status_code == 403
    marketer = {"Authorization": "Bearer " + keys.create(uow=shop.uow(), role="marketer", name="m")[1]}
    current = chat.get("/v1/qualification-schema", headers=marketer).json
    saved = chat.put(
        "/v1/qualification-schema",
        json={"fields": current["fields"], "thresholds": {"qualified": 60, "hot": 65}},
        headers=marketer,
    )
    assert saved.status_code == 200
    assert saved.json["version"] == current["version"] + 1
    cid = start(chat)["conversation_id"]
    say(chat, cid, "We need 5 laptops asap, budget 8000 EUR, I'm the CTO")
    turn = say(chat, cid, "cto@acme.example")
    assert turn["lead"]["status"] == "qualified"
    assert turn["conversation_status"] == "awaiting_human"
    assert turn["handoff_reason"].startswith("hot lead")


def test_a_conversation_keeps_the_schema_version_it_started_with(chat, shop):
    marketer = {"Authorization": "Bearer " + keys.create(uow=shop.uow(), role="marketer", name="m")[1]}
    cid = start(chat)["conversation_id"]
    only_email = [{"name": "email", "type": "email", "question": "Your e-mail?", "required": True, "weight": 100}]
    assert chat.put("/v1/qualification-schema", json={"fields": only_email}, headers=marketer).status_code == 200
    assert say(chat, cid, "we need tablets")["reply"]["asks"] == "budget"  # still the old schema
    fresh = start(chat, visitor_id="v-2")
    assert fresh["reply"]["asks"] == "email"


def test_a_bad_schema_names_the_field_and_saves_nothing(chat, shop):
    marketer = {"Authorization": "Bearer " + keys.create(uow=shop.uow(), role="marketer", name="m")[1]}
    before = chat.get("/v1/qualification-schema", headers=marketer).json["version"]
    bad = [{"name": "budget", "type": "money", "question": "Budget?", "required": True, "rule": {"max_days": 3}}]
    response = chat.put("/v1/qualification-schema", json={"fields": bad}, headers=marketer)
    assert response.status_code == 422
    assert "fields.0.rule.max_days" in response.json["errors"]
    wrong_type = [{"name": "x", "type": "colour", "question": "?", "required": True}]
    response = chat.put("/v1/qualification-schema", json={"fields": wrong_type}, headers=marketer)
    assert response.status_code == 422
    assert chat.get("/v1/qualification-schema", headers=marketer).json["version"] == before


def test_bad_messages_get_422_naming_text_and_change_nothing(chat):
    cid = start(chat)["conversation_id"]
    for text in ["", "   ", "x" * 2001, 42, "\x00\x07"]:
        response = chat.post(f"/v1/conversations/{cid}/messages", json={"text": text})
        assert response.status_code == 422, text
        assert "text" in response.json["errors"]
    assert len(chat.get(f"/v1/conversations/{cid}").json["messages"]) == 1  # the greeting only
    assert chat.post("/v1/conversations/cv_nope/messages", json={"text": "hi"}).status_code == 404


def test_closed_conversations_take_no_messages_and_keep_their_csat(chat):
    cid = start(chat)["conversation_id"]
    rated = chat.post(f"/v1/conversations/{cid}/csat", json={"score": 4, "comment": "quick"})
    assert rated.status_code == 200
    assert rated.json["csat"] == 4
    assert chat.post(f"/v1/conversations/{cid}/csat", json={"score": 9}).status_code == 422
    closed = chat.post(f"/v1/conversations/{cid}/close")
    assert closed.json["status"] == "closed"
    late = chat.post(f"/v1/conversations/{cid}/messages", json={"text": "hello?"})
    assert late.status_code == 409
    assert "closed" in late.json["detail"]


def test_a_site_key_speaks_for_a_customer_only_with_their_identity_hash(chat, shop):
    key, secret = keys.create(uow=shop.uow(), role="site", name="widget")
    site = {"Authorization": "Bearer " + secret}
    response = chat.post("/v1/conversations", json={"customer_id": "c-1"}, headers=site)
    assert response.status_code == 403
    assert "X-Customer-Hash" in response.json["detail"]
    signed = site | {"X-Customer-Hash": identity.sign(key.identity_secret, "c-1")}
    assert chat.post("/v1/conversations", json={"customer_id": "c-1"}, headers=signed).status_code == 201
    assert chat.post("/v1/conversations", json={"visitor_id": "v-9"}, headers=site).status_code == 201
    nobody = chat.post("/v1/conversations", json={})
    assert nobody.status_code == 422
    assert "visitor_id" in nobody.json["errors"]


def test_known_customers_score_for_what_they_did_in_the_store(chat, shop):
    customers.put(uow=shop.uow(), customer_id="c-7")
    now = datetime.now(UTC).isoformat()
    done = [
        {"customer_id": "c-7", "item_id": "tab-2", "type": kind, "value": 649, "occurred_at": now}
        for kind in ("view", "view", "add_to_cart")
    ]
    events.record(uow=shop.uow(), events=done, policy=shop.event_policy)
    cid = start(chat, customer_id="c-7", visitor_id=None)["conversation_id"]
    behaviour = say(chat, cid, "we need tablets")["lead"]["score_breakdown"]["behaviour"]
    assert behaviour["recent_views"]["value"] == 2
    assert behaviour["cart_value"]["value"] == 649
    assert behaviour["recent_views"]["points"] > 0


def test_each_conversation_is_rate_limited_on_its_own(database_url):
    services = bootstrap(Settings(database_url=database_url, conversation_rate_limit="3/minute"))
    stock(services)
    client = keyed_client(services, "server")
    first, second = start(client)["conversation_id"], start(client, visitor_id="v-2")["conversation_id"]
    for _ in range(3):
        say(client, first, "we need tablets")
    limited = client.post(f"/v1/conversations/{first}/messages", json={"text": "hello"})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    say(client, second, "we need laptops")  # another conversation is not affected
    services.close()


def test_logs_never_carry_e_mails_or_phone_numbers():
    stream = io.StringIO()
    configure_logging(level="INFO", fmt="json", stream=stream)
    logging.getLogger("salesbot.conversation").warning("visitor wrote %s and %s", "maria@acme.com", "+49 30 1234567")
    written = stream.getvalue()
    assert "maria@acme.com" not in written
    assert "1234567" not in written
    assert "m***@***" in written
    assert "+***67" in written


def test_a_bad_page_is_refused_and_times_in_messages_are_fine(chat):
    bad = chat.post("/v1/conversations", json={"visitor_id": "v-1", "page": {"item_ids": 5}})
    assert bad.status_code == 422
    assert "page.item_ids" in bad.json["errors"]
    cid = start(chat, page={"item_ids": ["tab-1"], "url": "https://shop.example/tab-1"})["conversation_id"]
    assert say(chat, cid, "Can we talk on Monday at 10:30?")["conversation_status"] == "open"
