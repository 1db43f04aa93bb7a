"""KPIs after a scripted day of conversations, on SQLite and PostgreSQL: each figure is what the day's cases add up
to, the conversations behind a figure are exactly the ones it counts, and the CSV has one row per conversation."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import pytest

from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.inbox import reps
from tests.conftest import keyed_client
from tests.integration.test_conversations import say, start, stock


@dataclass
class Day:
    """What the script did, counted as it went: the expected figures come from here, not from the code under test."""

    started: list[str] = field(default_factory=list)
    bot_resolved: list[str] = field(default_factory=list)
    handed_off: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    ratings: dict[str, tuple[int, bool]] = field(default_factory=dict)  # conversation: (score, handed off)
    purchased: list[str] = field(default_factory=list)
    revenue: float = 0.0


@pytest.fixture
def shop(database_url):
    services = bootstrap(Settings(database_url=database_url, conversation_rate_limit="1000/minute",
                                  presence_seconds=300, model_check_seconds=0))  # fmt: skip
    stock(services)
    yield services
    services.close()


@pytest.fixture
def day(shop) -> Day:
    """Six visitors: two the bot serves alone (one comes back within the week), one who asks for a person and is
    answered, one left open, one who buys after talking, and one who rates the bot badly."""
    chat, done = keyed_client(shop), Day()
    _anna, rep_key = reps.create(uow=shop.uow(), name="Anna", email="anna@shop.example")
    as_anna = keyed_client(shop, "server")
    as_anna.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + rep_key
    assert as_anna.post("/v1/inbox/presence", json={"status": "online"}).status_code == 200

    def talk(visitor: str, *lines: str, rating: int | None = None, close: bool = True) -> str:
        cid = start(chat, visitor_id=visitor)["conversation_id"]
        done.started.append(cid)
        for line in lines:
            say(chat, cid, line)
        if rating is not None:
            assert chat.post(f"/v1/conversations/{cid}/csat", json={"score": rating}).status_code == 200
        if close:
            assert chat.post(f"/v1/conversations/{cid}/close").status_code == 200
            done.closed.append(cid)
        return cid

    first = talk("v-back", "we need a laptop", "about 1500 EUR", rating=5)
    done.ratings[first] = (5, False)
    done.reopened.append(first)  # the same visitor starts again below
    again = talk("v-back", "one more question about laptops", rating=4)
    done.ratings[again] = (4, False)
    done.bot_resolved.append(again)
    human = talk("v-human", "I want to talk to a human", close=False)
    done.handed_off.append(human)
    assert as_anna.post(f"/v1/conversations/{human}/accept").status_code == 200
    assert as_anna.post(f"/v1/conversations/{human}/replies", json={"text": "Anna here"}).status_code == 201
    assert as_anna.post(f"/v1/conversations/{human}/resolve").status_code == 200
    assert chat.post(f"/v1/conversations/{human}/csat", json={"score": 3}).status_code == 200
    done.ratings[human] = (3, True)
    done.closed.append(human)
    talk("v-open", "we need tablets", close=False)
    buyer = talk("v-buyer", "we need a laptop", "budget 2000 EUR")
    done.bot_resolved.append(buyer)
    bought = [{"event_id": f"buy-{n}", "visitor_id": "v-buyer", "item_id": "lap-1", "type": "purchase", "value": 2}
              for n in range(1)]  # fmt: skip
    assert keyed_client(shop, "server").post("/v1/events", json={"events": bought}).status_code == 202
    done.purchased.append(buyer)
    done.revenue = 2 * _price(shop, "lap-1")
    unhappy = talk("v-unhappy", "what do you sell?", rating=1)
    done.ratings[unhappy] = (1, False)
    done.bot_resolved.append(unhappy)
    return done


def _price(shop, item_id: str) -> float:
    return float(keyed_client(shop, "server").get(f"/v1/items/{item_id}").json["price"])


def figures(shop, **query) -> dict[str, dict]:
    answer = keyed_client(shop, "marketer").get("/v1/kpis", query_string=query)
    assert answer.status_code == 200, answer.json
    return {figure["name"]: figure for figure in answer.json["kpis"]}


def test_the_day_s_figures_are_what_its_conversations_add_up_to(shop, day):
    kpi = figures(shop)
    started = len(day.started)
    assert kpi["conversations_started"]["value"] == started
    assert kpi["conversations_started"]["breakdown"] == {"web": started}
    assert kpi["bot_resolution_rate"]["value"] == pytest.approx(len(day.bot_resolved) / started)
    assert kpi["handoff_rate"]["value"] == pytest.approx(len(day.handed_off) / started)
    assert kpi["handoff_rate"]["breakdown"] == {"the visitor asked for a person": 1}
    assert kpi["reopen_rate"]["value"] == pytest.approx(len(day.reopened) / len(day.closed))
    scores = [score for score, _ in day.ratings.values()]
    assert kpi["csat_average"]["value"] == pytest.approx(sum(scores) / len(scores))
    assert kpi["csat_average"]["breakdown"] == {str(n): scores.count(n) for n in range(1, 6)}
    bot_only = [score for score, human in day.ratings.values() if not human]
    assert kpi["csat_bot_only"]["value"] == pytest.approx(sum(bot_only) / len(bot_only))
    assert kpi["csat_human"]["value"] == 3
    assert kpi["lead_to_purchase_rate"]["value"] == pytest.approx(len(day.purchased) / started)
    assert kpi["attributed_revenue"]["value"] == pytest.approx(day.revenue)
    assert kpi["human_wait_seconds_p50"]["numerator_value"] == 1  # one accepted hand-off
    assert kpi["first_human_response_seconds_p50"]["value"] >= kpi["human_wait_seconds_p50"]["value"] >= 0
    assert kpi["bot_reply_ms_p50"]["value"] > 0
    assert kpi["llm_turn_share"]["value"] == 0  # no LLM configured: every turn is the rules brain's
    assert kpi["llm_turn_share"]["breakdown"]["llm"] == 0
    for name in ("handoff_rate", "reopen_rate", "csat_average"):  # each says what it counts
        assert kpi[name]["definition"]
        assert kpi[name]["numerator"]


def test_the_conversations_behind_a_figure_are_the_ones_it_counts(shop, day):
    link = figures(shop)["handoff_rate"]["conversations"]
    behind = keyed_client(shop, "marketer").get(link).json
    assert behind["total"] == len(day.handed_off)
    assert [row["conversation_id"] for row in behind["conversations"]] == day.handed_off
    assert behind["conversations"][0]["handoff_reason"] == "the visitor asked for a person"
    resolved = keyed_client(shop, "marketer").get("/v1/kpis/conversations", query_string={"kpi": "bot_resolution_rate"})
    assert sorted(row["conversation_id"] for row in resolved.json["conversations"]) == sorted(day.bot_resolved)
    assert figures(shop)["csat_average"]["conversations"] is None  # an average is not a list of conversations


def test_slices_and_periods_add_up_to_the_whole(shop, day):
    kpi = figures(shop, by="brain", granularity="week")
    started = kpi["conversations_started"]
    assert sum(point["value"] for point in started["series"]) == started["value"]
    assert sum(part["numerator_value"] for part in started["slices"]) == started["value"]
    assert {part["slice"] for part in started["slices"]} == {"rules"}
    assert kpi["recommendation_lists_served"]["slices"] is None  # lists are not cut by brain; it says so
    served = figures(shop, by="model_version")["recommendation_lists_served"]
    assert served["value"] > 0  # the conversations' product picks, with no model trained yet
    assert {part["slice"] for part in served["slices"]} == {"popular / popular"}
    assert sum(part["numerator_value"] for part in served["slices"]) == served["value"]


def test_the_export_has_one_row_per_conversation_with_its_outcome(shop, day):
    answer = keyed_client(shop, "marketer").get("/v1/kpis/conversations.csv")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    assert answer.data.startswith("\ufeff".encode())  # spreadsheets read it as UTF-8
    rows = list(csv.DictReader(io.StringIO(answer.data.decode("utf-8-sig"))))
    assert sorted(row["conversation_id"] for row in rows) == sorted(day.started)
    by_id = {row["conversation_id"]: row for row in rows}
    assert by_id[day.handed_off[0]]["handed_off"] == "True"
    assert by_id[day.purchased[0]]["revenue"] == str(day.revenue)
    assert {row["bot_resolved"] for row in rows if row["conversation_id"] in day.bot_resolved} == {"True"}


def test_a_bad_window_or_an_unknown_kpi_is_a_clear_422_and_browsers_keys_cannot_read(shop):
    marketer = keyed_client(shop, "marketer")
    backwards = marketer.get("/v1/kpis", query_string={"from": "2026-11-20T00:00:00Z", "to": "2026-11-01T00:00:00Z"})
    assert backwards.status_code == 422
    assert "from" in str(backwards.json)
    unknown = marketer.get("/v1/kpis/conversations", query_string={"kpi": "happiness"})
    assert unknown.status_code == 422
    assert "kpi" in str(unknown.json)
    assert marketer.get("/v1/kpis", query_string={"by": "weather"}).status_code == 422
    uncut = {"kpi": "handoff_rate", "by": "model_version", "slice": "x"}  # conversations have no model version
    assert marketer.get("/v1/kpis/conversations", query_string=uncut).json["errors"] == {
        "by": ["conversations are cut by channel, brain or arm"]
    }
    assert keyed_client(shop, "site").get("/v1/kpis").status_code == 403
    assert keyed_client(shop, "rep").get("/v1/kpis/conversations.csv").status_code == 403
