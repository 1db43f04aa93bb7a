"""The rep side through the API, on SQLite and PostgreSQL: a hand-off is queued and routed, a rep accepts, the bot
goes silent, the rep and the visitor talk through numbered lines, and the conversation is released or resolved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from models import HandoffChange, OutboxEvent
from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.inbox import handoffs, reps
from tests.conftest import keyed_client
from tests.integration.test_conversations import say, start, stock


@pytest.fixture
def shop(database_url):
    services = bootstrap(Settings(database_url=database_url, conversation_rate_limit="1000/minute",
                                  accept_seconds=30, presence_seconds=300))  # fmt: skip
    stock(services)
    yield services
    services.close()


@pytest.fixture
def chat(shop):
    return keyed_client(shop)


def rep_client(shop, name: str, **values):
    rep, secret = reps.create(uow=shop.uow(), name=name, email=f"{name.lower()}@shop.example", **values)
    client = keyed_client(shop, "server")
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + secret
    return rep, client


def online(client):
    assert client.post("/v1/inbox/presence", json={"status": "online"}).status_code == 200


def test_a_hand_off_is_routed_accepted_and_the_bot_stays_silent_while_the_rep_talks(chat, shop):
    _anna, as_anna = rep_client(shop, "Anna", languages=["en"], categories=["laptops"])
    online(as_anna)
    cid = start(chat, visitor_id="hot")["conversation_id"]
    say(chat, cid, "we need 20 laptops")
    handed = say(chat, cid, "I want to talk to a human")
    assert handed["conversation_status"] == "awaiting_human"
    inbox = as_anna.get("/v1/inbox").json
    assert [c["conversation_id"] for c in inbox["mine"]] == [cid]  # offered to Anna (fits, online, has room)
    packet = inbox["mine"][0]
    assert packet["state"] == "assigned"
    assert packet["need"] == "20 laptops"
    assert packet["reason"] == "the visitor asked for a person"
    assert len(packet["summary"]) == 3
    assert packet["summary_by"] == "extract"  # no LLM configured: the three lines come from the transcript

    accepted = as_anna.post(f"/v1/conversations/{cid}/accept")
    assert accepted.status_code == 200
    assert accepted.json["state"] == "live"
    quiet = say(chat, cid, "hello? anyone there?")
    assert quiet["reply"] is None  # the bot never talks over a person
    assert quiet["conversation_status"] == "live"
    sent = as_anna.post(f"/v1/conversations/{cid}/replies", json={"text": "Hi, I'm Anna. 20 laptops, sure."})
    assert sent.status_code == 201

    lines = chat.get(f"/v1/conversations/{cid}/messages?after=0").json
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))  # numbered, no gap
    assert [line["author"] for line in lines[-3:]] == ["system", "visitor", "rep"]
    assert lines[-3]["text"] == "Anna joined the conversation."
    assert lines[-1]["text"] == "Hi, I'm Anna. 20 laptops, sure."
    after = chat.get(f"/v1/conversations/{cid}/messages?after={lines[-2]['seq']}").json
    assert [line["seq"] for line in after] == [lines[-1]["seq"]]  # resume from the last seen: nothing twice

    back = as_anna.post(f"/v1/conversations/{cid}/release")
    assert back.json["state"] == "bot"
    assert say(chat, cid, "thanks, what about the budget")["reply"] is not None  # the bot speaks again
    with shop.uow() as uow:
        moves = [(c.from_state, c.to_state) for c in uow.session.scalars(
            select(HandoffChange).where(HandoffChange.conversation_id == cid).order_by(HandoffChange.id))]  # fmt: skip
        told = {e.type for e in uow.session.scalars(select(OutboxEvent))}
    assert moves == [("bot", "queued"), ("queued", "assigned"), ("assigned", "live"), ("live", "bot")]
    assert {"conversation.queued", "conversation.assigned", "conversation.live", "conversation.released"} <= told


def test_only_the_rep_holding_it_speaks_and_others_cannot_take_it(chat, shop):
    _anna, as_anna = rep_client(shop, "Anna")
    _ben, as_ben = rep_client(shop, "Ben")
    online(as_anna)
    cid = start(chat, visitor_id="v")["conversation_id"]
    say(chat, cid, "agent please")
    holder = as_anna if as_anna.get("/v1/inbox").json["mine"] else as_ben
    other = as_ben if holder is as_anna else as_anna
    assert holder.post(f"/v1/conversations/{cid}/accept").status_code == 200
    assert other.post(f"/v1/conversations/{cid}/accept").status_code == 409
    assert other.post(f"/v1/conversations/{cid}/replies", json={"text": "me too"}).status_code == 409
    assert keyed_client(shop, "server").post(f"/v1/conversations/{cid}/accept").status_code == 403  # not a rep


def test_nobody_online_means_the_bot_takes_a_message_and_the_lead_says_so(chat, shop):
    rep_client(shop, "Away")  # a rep exists but is not online
    cid = start(chat, visitor_id="late")["conversation_id"]
    turn = say(chat, cid, "I want to speak to someone")
    assert "Leave your e-mail or phone number" in turn["reply"]["text"]
    assert turn["queue"] is None
    with shop.uow() as uow:
        told = [e.data for e in uow.session.scalars(select(OutboxEvent).where(OutboxEvent.type ==
                                                                               "lead.handoff_requested"))]  # fmt: skip
    assert told[0]["handoff"]["state"] == "message"
    assert say(chat, cid, "anna@acme.example")["reply"] is not None  # the bot keeps the conversation


def test_the_queue_is_ordered_and_an_offer_not_accepted_moves_on(chat, shop):
    _anna, as_anna = rep_client(shop, "Anna", capacity=1)
    online(as_anna)
    first = start(chat, visitor_id="first")["conversation_id"]
    second = start(chat, visitor_id="second")["conversation_id"]
    say(chat, first, "human please")
    waiting = say(chat, second, "human please")
    assert waiting["queue"] == {"position": 1, "wait_seconds": waiting["queue"]["wait_seconds"]}  # Anna is full
    assert [c["conversation_id"] for c in as_anna.get("/v1/inbox").json["queue"]] == [second]

    later = datetime.now(UTC) + timedelta(seconds=31)  # Anna did not accept the first in time
    handoffs.route(uow=shop.uow(), settings=shop.settings, now=later)
    assert [c["conversation_id"] for c in as_anna.get("/v1/inbox").json["mine"]] == [second]  # not the first again
    _ben, as_ben = rep_client(shop, "Ben", capacity=2)
    online(as_ben)
    assert [c["conversation_id"] for c in as_ben.get("/v1/inbox").json["mine"]] == [first]


def test_leads_for_reps_list_filter_and_change_with_history(chat, shop):
    anna, as_anna = rep_client(shop, "Anna")
    cid = start(chat, visitor_id="buyer")["conversation_id"]
    say(chat, cid, "we need laptops, 3000 EUR, next month, I'm the CTO")
    found = as_anna.get("/v1/leads?min_score=1").json["leads"]
    assert [lead["conversation_id"] for lead in found] == [cid]
    lead_id = found[0]["lead_id"]
    changed = as_anna.patch(f"/v1/leads/{lead_id}", json={"owner": anna.id, "status": "won", "notes": "signed"})
    assert changed.status_code == 200
    assert changed.json["status"] == "won"
    one = as_anna.get(f"/v1/leads/{lead_id}").json
    assert one["history"][-1]["changed_by"] is not None
    assert one["history"][-1]["changes"]["after"] == {"owner": anna.id, "notes": "signed", "status": "won"}
    assert one["transcript"][0]["seq"] == 1
    assert as_anna.get(f"/v1/leads?owner={anna.id}&status=won").json["leads"][0]["lead_id"] == lead_id
    bad = as_anna.patch(f"/v1/leads/{lead_id}", json={"status": "qualified"})
    assert bad.status_code == 422
    assert "status" in bad.json["errors"]
    assert say(chat, cid, "one more thing")["lead"]["status"] == "won"  # the bot never reopens a rep's close
    assert keys.get_all(uow=shop.uow())  # keys were made for the reps


def test_a_full_rep_cannot_take_more_from_the_queue(chat, shop):
    _anna, as_anna = rep_client(shop, "Anna", capacity=1)
    online(as_anna)
    first = start(chat, visitor_id="one")["conversation_id"]
    second = start(chat, visitor_id="two")["conversation_id"]
    say(chat, first, "human please")
    say(chat, second, "human please")
    assert as_anna.post(f"/v1/conversations/{first}/accept").status_code == 200
    refused = as_anna.post(f"/v1/conversations/{second}/accept")
    assert refused.status_code == 409
    assert "capacity" in refused.json["detail"]


def test_closing_ends_a_persons_part_and_a_supervisor_frees_a_stranded_conversation(chat, shop):
    _anna, as_anna = rep_client(shop, "Anna", capacity=1)
    online(as_anna)
    cid = start(chat, visitor_id="leaving")["conversation_id"]
    say(chat, cid, "agent please")
    as_anna.post(f"/v1/conversations/{cid}/accept")
    assert chat.post(f"/v1/conversations/{cid}/close").status_code == 200
    assert as_anna.post(f"/v1/conversations/{cid}/replies", json={"text": "hello?"}).status_code == 409
    assert as_anna.get("/v1/inbox").json["mine"] == []  # her place is free again

    stranded = start(chat, visitor_id="stranded")["conversation_id"]
    say(chat, stranded, "agent please")
    as_anna.post(f"/v1/conversations/{stranded}/accept")
    as_anna.post("/v1/inbox/presence", json={"status": "away"})  # Anna left without releasing it
    supervisor = keyed_client(shop, "admin")
    assert supervisor.post(f"/v1/conversations/{stranded}/release").json["state"] == "bot"
    assert say(chat, stranded, "still there?")["reply"] is not None


def test_a_message_taken_out_of_hours_reaches_a_rep_when_the_visitor_asks_again(chat, shop):
    _anna, as_anna = rep_client(shop, "Anna")
    cid = start(chat, visitor_id="early")["conversation_id"]
    assert "Leave your e-mail" in say(chat, cid, "I want to speak to someone")["reply"]["text"]
    online(as_anna)
    again = say(chat, cid, "can I talk to a human now?")
    assert again["conversation_status"] == "awaiting_human"
    assert [c["conversation_id"] for c in as_anna.get("/v1/inbox").json["mine"]] == [cid]


def test_a_lapsed_offer_skips_the_rep_only_in_that_hand_off_and_transfers_check_the_target(chat, shop):
    _anna, as_anna = rep_client(shop, "Anna")
    ben, _ = rep_client(shop, "Ben")
    online(as_anna)
    cid = start(chat, visitor_id="twice")["conversation_id"]
    say(chat, cid, "agent please")
    handoffs.route(uow=shop.uow(), settings=shop.settings, now=datetime.now(UTC) + timedelta(seconds=31))
    assert as_anna.get("/v1/inbox").json["mine"] == []  # she let it lapse: not offered again this time
    assert as_anna.post(f"/v1/conversations/{cid}/accept").status_code == 200  # she may still take it
    refused = as_anna.post(f"/v1/conversations/{cid}/transfer", json={"rep_id": ben.id})
    assert refused.status_code == 409  # Ben is away
    as_anna.post(f"/v1/conversations/{cid}/release")
    say(chat, cid, "agent please")  # a new hand-off: Anna may be offered it again
    assert [c["conversation_id"] for c in as_anna.get("/v1/inbox").json["mine"]] == [cid]


def test_a_visitor_and_a_rep_writing_at_once_both_land_numbered(chat, shop):
    _anna, as_anna = rep_client(shop, "Anna")
    online(as_anna)
    cid = start(chat, visitor_id="busy")["conversation_id"]
    say(chat, cid, "agent please")
    as_anna.post(f"/v1/conversations/{cid}/accept")

    visitors = [keyed_client(shop) for _ in range(8)]  # made first: CPython 3.11 cannot build apps in threads at once

    def visitor(n):
        return visitors[n // 2].post(f"/v1/conversations/{cid}/messages", json={"text": f"v{n}"}).status_code

    def rep(n):
        return as_anna.post(f"/v1/conversations/{cid}/replies", json={"text": f"r{n}"}).status_code

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda n: visitor(n) if n % 2 else rep(n), range(16)))
    assert sorted(set(codes)) == [200, 201]
    seqs = [line["seq"] for line in chat.get(f"/v1/conversations/{cid}/messages").json]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len([s for s in seqs if s]) >= 16


def test_a_forged_cursor_is_a_clear_422(shop):
    import base64
    import json as json_module

    _anna, as_anna = rep_client(shop, "Anna")
    naive = base64.urlsafe_b64encode(json_module.dumps(["2024-01-01T00:00:00", "x"]).encode()).decode()
    response = as_anna.get(f"/v1/leads?cursor={naive}")
    assert response.status_code == 422
    assert "cursor" in response.json["errors"]
