"""The LLM brain through the real openai SDK against a scripted OpenAI-compatible server on loopback.

Whatever the model answers, the visitor gets a sound reply: bad answers fall back to the rules brain for that
turn, and the server keeps only what the model may decide.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Message
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from tests.conftest import keyed_client
from tests.integration.test_conversations import say, start, stock
from tests.llm_server import Refusal, Slow, Status

GOOD = {
    "reply": "Great, tablets it is! What budget do you have in mind?",
    "intent": "ask",
    "fields": {"need": {"text": "40 tablets", "category": "tablets"}, "name": "Maria"},
    "asks": "budget",
    "item_ids": ["tab-1"],
    "faq_ids": [],
    "quick_replies": ["under 500 EUR", "500-1,000 EUR"],
    "understood": True,
    "wants_human": False,
    "language": "en",
}


@pytest.fixture
def shop(database_url, llm):
    services = bootstrap(
        Settings(
            database_url=database_url,
            llm_base_url=llm.base_url,
            llm_model="scripted-model",
            llm_timeout_seconds=1.0,
            llm_max_retries=2,
        )
    )
    stock(services)
    yield services
    services.close()


@pytest.fixture
def chat(shop):
    client = keyed_client(shop, "server")
    return client


def bot_lines(shop):
    with shop.uow() as uow:
        return list(uow.session.scalars(select(Message).where(Message.author == "bot").order_by(Message.id)))


def test_a_good_answer_is_used_and_its_tokens_counted(chat, shop, llm):
    llm.script = [GOOD]
    cid = start(chat)["conversation_id"]
    turn = say(chat, cid, "Hi, I'm Maria and we need 40 tablets")
    assert turn["reply"]["text"] == GOOD["reply"]
    assert turn["reply"]["asks"] == "budget"
    assert [i["item_id"] for i in turn["reply"]["items"]] == ["tab-1"]
    assert turn["lead"]["fields"]["need"] == {"text": "40 tablets", "category": "tablets"}
    assert turn["lead"]["fields"]["name"] == "Maria"
    sent = llm.requests[0]
    assert sent["model"] == "scripted-model"
    assert sent["response_format"]["type"] == "json_schema"
    assert "Hi, I'm Maria" in sent["messages"][1]["content"]  # the visitor's words travel as data
    assert "Hi, I'm Maria" not in sent["messages"][0]["content"]
    line = bot_lines(shop)[-1]
    assert line.brain == "llm"
    assert line.prompt_tokens > 0


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("this is not JSON {", "malformed JSON"),
        ('["a list"]', "not a JSON object"),
        ({**GOOD, "reply": 42}, "reply must be str"),
        ({**GOOD, "item_ids": "tab-1"}, "item_ids must be a list"),
        ({**GOOD, "understood": "yes"}, "understood and wants_human"),
        (Refusal("I can't help with that."), "refused"),
    ],
)
def test_a_malformed_or_refused_answer_falls_back_to_the_rules_brain(chat, shop, llm, answer, why):
    llm.script = [answer]
    cid = start(chat)["conversation_id"]
    turn = say(chat, cid, "we need tablets, about 700 EUR")
    assert turn["lead"]["fields"]["budget"]["amount"] == 700  # the rules brain read the message
    assert turn["reply"]["asks"] == "timeline"
    line = bot_lines(shop)[-1]
    assert line.brain == "rules"
    assert any(why in correction for correction in line.details["corrections"])


def test_invented_products_and_offers_are_dropped(chat, shop, llm):
    llm.script = [{**GOOD, "item_ids": ["tab-1", "sku-does-not-exist"], "offer_id": "offer-i-made-up"}]
    cid = start(chat)["conversation_id"]
    turn = say(chat, cid, "we need 40 tablets")
    assert [i["item_id"] for i in turn["reply"]["items"]] == ["tab-1"]
    assert turn["reply"]["offer"] is None
    corrections = bot_lines(shop)[-1].details["corrections"]
    assert any("sku-does-not-exist" in c for c in corrections)
    assert any("offer-i-made-up" in c for c in corrections)


def test_an_invented_discount_is_never_shown(chat, shop, llm):
    llm.script = [{**GOOD, "reply": "Good news: use code SAVE50 for a 50% discount on all tablets!"}]
    cid = start(chat)["conversation_id"]
    turn = say(chat, cid, "we need 40 tablets, any discount?")
    text = turn["reply"]["text"]
    assert "50" not in text
    assert "SAVE50" not in text
    assert "discount" not in text.lower()
    assert bot_lines(shop)[-1].brain == "rules"


def test_wrongly_typed_field_values_are_not_stored(chat, shop, llm):
    fields = {
        "budget": {"amount": "lots", "currency": "EUR"},
        "timeline": {"due_date": "2001-01-01"},
        "email": "someone.else@example.com",  # not what the visitor typed
        "company_size": {"min": -5},
        "authority": {"role": "cto", "decision_maker": "maybe"},
        "need": {"text": "tablets", "category": "tablets"},
    }
    llm.script = [{**GOOD, "fields": fields}]
    cid = start(chat)["conversation_id"]
    turn = say(chat, cid, "we want tablets")
    assert set(turn["lead"]["fields"]) == {"need"}
    corrections = " ".join(bot_lines(shop)[-1].details["corrections"])
    for name in ("budget", "timeline", "email", "company_size", "authority"):
        assert name in corrections


def test_text_values_are_normalised_by_the_server(chat, llm):
    llm.script = [{**GOOD, "fields": {"budget": "5-10k EUR", "email": "Maria@Acme.com", "timeline": "next quarter"}}]
    cid = start(chat)["conversation_id"]
    turn = say(chat, cid, "Budget 5-10k EUR, next quarter, mail me at Maria@Acme.com")
    fields = turn["lead"]["fields"]
    assert fields["budget"] == {"amount": 10000.0, "currency": "EUR", "period": None, "min": 5000.0, "max": 10000.0}
    assert fields["email"] == "maria@acme.com"
    assert fields["timeline"]["days"] > 0


def test_a_timeout_falls_back_within_the_turn(database_url, llm):
    services = bootstrap(
        Settings(database_url=database_url, llm_base_url=llm.base_url, llm_timeout_seconds=0.3, llm_max_retries=0)
    )
    stock(services)
    client = keyed_client(services, "server")
    llm.script = [Slow(2.0, GOOD)]
    cid = start(client)["conversation_id"]
    turn = say(client, cid, "we need tablets")
    assert turn["reply"]["asks"] == "budget"
    assert bot_lines(services)[-1].brain == "rules"
    assert "Timeout" in bot_lines(services)[-1].details["corrections"][0]
    services.close()


def test_429_then_success_is_retried_by_the_sdk(chat, shop, llm):
    llm.script = [Status(429, {"Retry-After": "0"}), GOOD]
    cid = start(chat)["conversation_id"]
    turn = say(chat, cid, "Hi, I'm Maria and we need 40 tablets")
    assert turn["reply"]["text"] == GOOD["reply"]
    assert len(llm.requests) == 2
    assert bot_lines(shop)[-1].brain == "llm"


def test_500s_until_the_retries_run_out_fall_back(chat, shop, llm):
    llm.script = [Status(500)]
    cid = start(chat)["conversation_id"]
    turn = say(chat, cid, "we need laptops")
    assert turn["reply"]["asks"] == "budget"
    assert len(llm.requests) == 3  # the first call and the SDK's two retries
    assert bot_lines(shop)[-1].brain == "rules"


def test_past_the_token_budget_the_rules_brain_answers(database_url, llm):
    services = bootstrap(Settings(database_url=database_url, llm_base_url=llm.base_url, llm_token_budget=1))
    stock(services)
    client = keyed_client(services, "server")
    llm.script = [GOOD]
    cid = start(client)["conversation_id"]
    say(client, cid, "we need tablets")
    say(client, cid, "700 EUR")
    assert len(llm.requests) == 1  # the first turn spent the budget
    assert [line.brain for line in bot_lines(services)][-2:] == ["llm", "rules"]
    services.close()


def test_prompts_stay_within_two_thousand_tokens(chat, llm):
    llm.script = [GOOD]
    cid = start(chat)["conversation_id"]
    for text in ["we need 40 tablets", "how long does shipping take?", "about 700 EUR", "next month", "I'm the CTO"]:
        say(chat, cid, text)
    # About four characters a token for English JSON: 8,000 characters is about 2,000 tokens.
    assert max(sum(len(m["content"]) for m in request["messages"]) for request in llm.requests) < 8000


@pytest.mark.parametrize(
    "reply",
    [
        "You get 50％ off today!",  # noqa: RUF001 (a full-width percent sign is the point)
        "Use code save50 at checkout.",
        "Claim it at evil-shop.ai/deal",
    ],
)
def test_disguised_claims_are_caught(chat, shop, llm, reply):
    llm.script = [{**GOOD, "reply": reply}]
    cid = start(chat)["conversation_id"]
    turn = say(chat, cid, "we need tablets, 50% off please")
    assert turn["reply"]["text"] != reply
    assert bot_lines(shop)[-1].brain == "rules"


def test_unsafe_quick_replies_and_non_finite_values_are_dropped(chat, shop, llm):
    fields = {"company_size": {"min": float("inf")}, "budget": {"amount": float("nan"), "currency": "EUR"}}
    llm.script = [{**GOOD, "fields": fields, "quick_replies": ["Use code SAVE50 for 50% off", "500-1,000 EUR"]}]
    cid = start(chat)["conversation_id"]
    turn = say(chat, cid, "we need tablets, 500-1,000 EUR")
    assert turn["reply"]["quick_replies"] == ["500-1,000 EUR"]
    assert "company_size" not in turn["lead"]["fields"]
    assert "budget" not in turn["lead"]["fields"]  # NaN is not an amount


def test_the_llm_words_the_servers_offer_and_is_corrected_when_it_changes_the_figure(chat, shop, llm):
    from salesbot.offers import experiments, offers

    deal = offers.create(uow=shop.uow(), changed_by=None, name="Spring deal", kind="percent", value=10.0,
                         code="SPRING10")  # fmt: skip
    arms = [{"name": "plain", "weight": 1, "model": "model-a"}, {"name": "brief", "weight": 1, "prompt": "brief"}]
    running = experiments.create(uow=shop.uow(), changed_by=None, prompts=("default", "brief"), name="Tone",
                                 arms=arms)  # fmt: skip
    experiments.start(uow=shop.uow(), experiment_id=running.id, changed_by=None)
    shop.desk.refresh()
    llm.script = [{**GOOD, "reply": "Good news: 15% off with SPRING10!", "intent": "offer", "offer_id": deal.id}]
    cid = start(chat, visitor_id="llm-visitor")["conversation_id"]
    turn = say(chat, cid, "is there any discount?")
    assert turn["reply"]["offer"]["value"] == 10.0  # the server's offer, whatever the model says
    assert "15%" not in turn["reply"]["text"]  # the model's wrong figure never reaches the visitor
    offered = [line for line in bot_lines(shop) if line.details.get("offer")][-1]
    assert any("discount of 15" in problem for problem in offered.details["corrections"])
    sent = llm.requests[-1]
    told = sent["messages"][1]["content"]
    assert '"offer_id": "' + deal.id in told  # the offer travels to the model as a fact
    arm = experiments.assignment(uow=shop.uow(), experiment_id=running.id, unit_id="llm-visitor")["arm"]
    if arm == "plain":
        assert sent["model"] == "model-a"
    else:
        assert "at most two short sentences" in sent["messages"][0]["content"]
    from salesbot.offers import results

    llm.script = [GOOD]
    say(chat, cid, "we need 40 tablets")  # a turn the LLM words itself
    measured = {a["name"]: a["units"] for a in results.results(uow=shop.uow(), experiment_id=running.id)["arms"]}
    assert measured[arm] == 1  # a prompt or model arm counts its units from their first LLM turn


def test_with_an_llm_the_rep_gets_its_three_line_briefing(chat, shop, llm):
    import time

    from salesbot.inbox import reps

    _anna, secret = reps.create(uow=shop.uow(), name="Anna", email="anna@shop.example")
    as_anna = keyed_client(shop, "server")
    as_anna.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + secret
    as_anna.post("/v1/inbox/presence", json={"status": "online"})
    briefing = ["Wants 40 tablets for a school", "No budget yet; decides herself", "Offer the volume price first"]
    llm.script = [{"lines": briefing}]
    cid = start(chat, visitor_id="briefed")["conversation_id"]
    say(chat, cid, "I want to talk to a human")
    deadline = time.monotonic() + 5
    packet = {}
    while time.monotonic() < deadline:
        packet = next(c for c in as_anna.get("/v1/inbox").json["mine"] if c["conversation_id"] == cid)
        if packet["summary_by"] == "llm":
            break
        time.sleep(0.1)
    assert packet["summary"] == briefing
    assert '"untrusted_transcript"' in llm.requests[-1]["messages"][1]["content"]  # the chat travels as data
