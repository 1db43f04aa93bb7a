"""Feedback on the bot's lines through the API, on SQLite and PostgreSQL: a rep who took a conversation over rates
its lines, changes their mind and writes the reply the bot should have given; a marketer rates too; browsers' keys,
the shop's server and reps who never held the conversation are refused; the transcript shows it all to the store's
people and nothing to a site key; the KPIs add up to what was rated."""

from __future__ import annotations

import csv
import io

import pytest

from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.inbox import reps
from tests.conftest import keyed_client
from tests.integration.test_conversations import say, start, stock


@pytest.fixture
def shop(database_url):
    services = bootstrap(Settings(database_url=database_url, conversation_rate_limit="1000/minute",
                                  presence_seconds=300, embeddings="off"))  # fmt: skip
    stock(services)
    yield services
    services.close()


def as_rep(shop, name: str):
    """A test client with the key of a new rep, online."""
    _rep, secret = reps.create(uow=shop.uow(), name=name, email=f"{name.lower()}@shop.example")
    client = keyed_client(shop)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    assert client.post("/v1/inbox/presence", json={"status": "online"}).status_code == 200
    return client


@pytest.fixture
def anna(shop):
    return as_rep(shop, "Anna")


@pytest.fixture
def chat(shop):
    return keyed_client(shop)  # the shop's server, speaking for its visitor


@pytest.fixture
def taken(shop, chat, anna) -> str:
    """A conversation Anna took over: bot greeting (1), visitor (2), bot with laptops (3), visitor asks for a person
    (4), bot hands off (5), Anna joins (6)."""
    cid = start(chat)["conversation_id"]
    say(chat, cid, "we need a laptop")
    assert say(chat, cid, "I want to talk to a human")["conversation_status"] == "awaiting_human"
    assert anna.post(f"/v1/conversations/{cid}/accept").status_code == 200
    return cid


def rate(client, cid: str, seq: int, status: int = 200, **body):
    answer = client.post(f"/v1/conversations/{cid}/messages/{seq}/rating", json=body)
    assert answer.status_code == status, answer.json
    return answer.json


def bot_line(transcript: dict, seq: int) -> dict:
    return next(line for line in transcript["messages"] if line["seq"] == seq)


def test_a_rep_rates_changes_their_mind_and_corrects_and_the_transcript_shows_it(shop, chat, anna, taken):
    first = rate(anna, taken, 3, rating="down", reason="wrong_product", comment="wrong laptops")
    assert (first["rating"], first["reason"], first["role"]) == ("down", "wrong_product", "rep")
    assert first["line"].startswith("Laptops, noted")
    assert first["feedback"]["down"] == 1
    assert first["feedback"]["mine"]["reason"] == "wrong_product"

    again = rate(anna, taken, 3, rating="up")  # the same rep again: the one rating changes, no second one
    assert (again["rating"], again["reason"], again["comment"]) == ("up", None, "wrong laptops")
    assert (again["feedback"]["up"], again["feedback"]["down"]) == (1, 0)
    assert again["created_at"] == first["created_at"]

    should = "Which screen size do you need: 13 or 15 inches?"
    corrected = rate(anna, taken, 3, correction=should)
    assert (corrected["rating"], corrected["correction"]) == ("up", should)

    listed = anna.get(f"/v1/conversations/{taken}/ratings").json
    assert [(row["seq"], row["rating"], row["correction"]) for row in listed] == [(3, "up", should)]

    transcript = chat.get(f"/v1/conversations/{taken}").json  # the shop's own key reads the summary
    summary = bot_line(transcript, 3)["feedback"]
    assert (summary["up"], summary["down"], summary["mine"]) == (1, 0, None)  # not the server key's own
    assert [c["text"] for c in summary["corrections"]] == [should]
    assert bot_line(transcript, 1)["feedback"]["up"] == 0
    assert "feedback" not in bot_line(transcript, 2)  # the visitor's line carries none
    polled = anna.get(f"/v1/conversations/{taken}/messages", query_string={"after": 2}).json
    assert polled[0]["feedback"]["mine"]["correction"] == should  # the rep console's lines, with Anna's own


def test_a_site_key_never_sees_feedback_nor_gives_it(shop, anna):
    site_key = keys.create(uow=shop.uow(), role="site", name="widget")[1]
    site = keyed_client(shop)
    site.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {site_key}"
    started = start(site)
    cid, token = started["conversation_id"], started["conversation_token"]
    site.environ_base["HTTP_X_CONVERSATION_TOKEN"] = token
    say(site, cid, "we need a laptop")
    rate(keyed_client(shop, "marketer"), cid, 3, rating="down", reason="made_up")

    assert rate(site, cid, 3, status=403, rating="up")["detail"] == "a site key may not do this"
    assert site.get(f"/v1/conversations/{cid}/ratings").status_code == 403
    seen = [site.get(f"/v1/conversations/{cid}").json["messages"], site.get(f"/v1/conversations/{cid}/messages").json]
    assert all("feedback" not in line for lines in seen for line in lines)
    assert "made_up" not in str(seen)


def test_a_marketer_rates_any_line_but_only_a_rep_who_took_over_or_an_admin_corrects(shop, anna, taken):
    marketer = keyed_client(shop, "marketer")
    rate(anna, taken, 3, rating="up")
    given = rate(marketer, taken, 3, rating="down", reason="too_pushy")
    assert (given["role"], given["rep_id"]) == ("marketer", None)
    assert (given["feedback"]["up"], given["feedback"]["down"]) == (1, 1)
    assert given["feedback"]["reasons"] == {"too_pushy": 1}

    refused = rate(marketer, taken, 3, status=403, correction="Say it better")
    assert refused["detail"].startswith("correction:")
    admin = rate(keyed_client(shop, "admin"), taken, 5, correction="A colleague will be with you in a minute.")
    assert (admin["rating"], admin["role"]) == (None, "admin")  # a correction alone is feedback enough
    lead_id = keyed_client(shop, "marketer").get("/v1/leads").json["leads"][0]["lead_id"]
    lead = marketer.get(f"/v1/leads/{lead_id}").json  # where a marketer reads the transcript
    assert {line["seq"]: line.get("feedback", {}).get("down") for line in lead["transcript"]}[3] == 1


def test_the_shop_s_server_and_a_rep_who_never_held_it_are_refused(shop, chat, taken):
    assert rate(chat, taken, 3, status=403, rating="up")["detail"] == "a server key may not do this"
    ben = as_rep(shop, "Ben")
    refused = rate(ben, taken, 3, status=403, rating="up")
    assert "never held" in refused["detail"]
    assert ben.delete(f"/v1/conversations/{taken}/messages/3/rating").status_code == 204  # nothing of Ben's to take
    assert ben.get(f"/v1/conversations/{taken}/ratings").json == []


def test_a_rep_offered_the_conversation_rates_but_corrects_only_after_taking_it_over(shop, chat, anna):
    cid = start(chat)["conversation_id"]
    say(chat, cid, "I want to talk to a human")  # routed to Anna, the one rep online: offered, not yet accepted
    assert rate(anna, cid, 1, rating="up")["rep_id"]
    assert "took this conversation over" in rate(anna, cid, 1, status=403, correction="Hello!")["detail"]
    assert anna.post(f"/v1/conversations/{cid}/accept").status_code == 200
    assert rate(anna, cid, 1, correction="Hello!")["correction"] == "Hello!"


def test_only_the_bot_s_lines_can_be_rated(shop, anna, taken):
    visitor = rate(anna, taken, 2, status=422, rating="down")
    assert visitor["errors"] == {"seq": ["line 2 is the visitor's; only the bot's lines can be rated"]}
    assert rate(anna, taken, 6, status=422, rating="up")["errors"]["seq"][0].startswith("line 6 is a notice")
    assert rate(anna, taken, 99, status=404, rating="up")["detail"].endswith("has no line 99")
    assert rate(anna, taken, 10**12, status=404, rating="up")["status"] == 404  # beyond any line, not a 500
    assert rate(anna, "cv_nobody", 3, status=404, rating="up")["detail"] == "no conversation 'cv_nobody'"
    assert anna.get(f"/v1/conversations/{taken}/ratings").json == []


def test_withdrawing_takes_the_key_s_feedback_back(shop, anna, taken):
    marketer = keyed_client(shop, "marketer")
    rate(anna, taken, 3, rating="down", reason="off_topic")
    rate(marketer, taken, 3, rating="up")
    assert anna.delete(f"/v1/conversations/{taken}/messages/3/rating").status_code == 204
    assert anna.delete(f"/v1/conversations/{taken}/messages/3/rating").status_code == 204  # twice: no change
    assert [row["role"] for row in anna.get(f"/v1/conversations/{taken}/ratings").json] == ["marketer"]
    summary = bot_line(anna.get(f"/v1/conversations/{taken}").json, 3)["feedback"]
    assert (summary["up"], summary["down"], summary["reasons"], summary["mine"]) == (1, 0, {}, None)


def test_the_kpis_add_up_to_what_was_rated(shop, chat, anna, taken):
    marketer, admin = keyed_client(shop, "marketer"), keyed_client(shop, "admin")
    other = start(chat, visitor_id="v-2")["conversation_id"]  # never rated: counts nothing
    rate(anna, taken, 1, rating="up")  # rated up
    rate(anna, taken, 3, rating="down", reason="wrong_product", correction="Which size?")  # rated down, twice
    rate(marketer, taken, 3, rating="down", reason="made_up")
    rate(anna, taken, 5, rating="down")  # split: one down, one up
    rate(marketer, taken, 5, rating="up")
    rate(admin, taken, 5, correction="A colleague is on the way.")  # a correction without a rating
    answer = marketer.get("/v1/kpis", query_string={"by": "channel"})
    kpi = {figure["name"]: figure for figure in answer.json["kpis"]}

    rated = kpi["bot_lines_rated"]
    assert rated["value"] == 3
    assert rated["breakdown"] == {"up": 1, "down": 1, "split": 1}
    share = kpi["bot_lines_rated_up_share"]
    assert (share["numerator_value"], share["denominator_value"]) == (1, 3)
    assert share["value"] == pytest.approx(1 / 3)
    assert kpi["bot_lines_rated_down"]["value"] == 1
    assert kpi["bot_lines_rated_down"]["breakdown"] == {"made_up": 1, "wrong_product": 1, "(none)": 1}
    assert kpi["bot_line_corrections"]["value"] == 2
    assert sum(point["value"] for point in rated["series"]) == 3
    assert [(part["slice"], part["value"]) for part in rated["slices"]] == [("web", 3)]
    for name in ("bot_lines_rated", "bot_lines_rated_up_share", "bot_lines_rated_down", "bot_line_corrections"):
        behind = marketer.get(kpi[name]["conversations"]).json
        assert [row["conversation_id"] for row in behind["conversations"]] == [taken]

    exported = marketer.get("/v1/kpis/conversations.csv").data.decode("utf-8-sig")
    rows = {row["conversation_id"]: row for row in csv.DictReader(io.StringIO(exported))}
    counted = ("lines_rated", "lines_rated_up", "lines_rated_down", "corrections")
    assert [rows[taken][name] for name in counted] == ["3", "1", "1", "2"]
    assert rows[other]["lines_rated"] == "0"
