"""A conversation shows products only when they fit what the visitor wants, and says so when nothing does."""

from __future__ import annotations

import pytest

from salesbot.bootstrap import bootstrap
from salesbot.catalog import items
from salesbot.config import Settings
from salesbot.conversation.products import Aisles, budget_per_unit
from tests.conftest import keyed_client

SHOP = [
    ("tab-1", "Pixa Tablet Lite", "tablets", "199"),
    ("tab-2", "Pixa Tablet Pro", "tablets", "649"),
    ("tab-3", "Voltra Slate Max", "tablets", "1299"),
    ("lap-1", "Voltra Notebook Air", "laptops", "999"),
    ("lap-2", "Lumen Laptop Studio", "laptops", "2499"),
    ("ear-1", "Sonique Earbuds", "headphones", "89"),
    ("mon-1", "Lumen Monitor 24", "monitors", "329"),
    ("mon-2", "Lumen Monitor 27", "monitors", "449"),
    ("mon-3", "Lumen Monitor 32", "monitors", "799"),
]


@pytest.fixture
def shop(database_url):
    services = bootstrap(Settings(database_url=database_url, conversation_rate_limit="100/minute"))
    for item_id, title, category, price in SHOP:
        items.put(uow=services.uow(), item_id=item_id, title=title, category=category, price=price, currency="EUR")
    yield services
    services.close()


@pytest.fixture
def chat(shop):
    return keyed_client(shop)


def conversation(chat):
    return chat.post("/v1/conversations", json={"visitor_id": "v-1"}).json["conversation_id"]


def shown(chat, cid, text):
    turn = chat.post(f"/v1/conversations/{cid}/messages", json={"text": text})
    assert turn.status_code == 200, turn.json
    return [item["item_id"] for item in turn.json["reply"]["items"]]


@pytest.mark.parametrize("need", ["we need a sofa", "looking for printers", "I want a lawn mower"])
def test_nothing_is_shown_when_the_store_has_nothing_that_fits(chat, need):
    assert shown(chat, conversation(chat), need) == []


@pytest.mark.parametrize(
    ("need", "shelf"),
    [("we need tablets", "tab"), ("a new notebook for work", "lap"), ("some earbuds", "ear"), ("a monitor", "mon")],
)
def test_shown_products_are_on_the_shelf_the_need_names(chat, need, shelf):
    found = shown(chat, conversation(chat), need)
    assert found
    assert all(item_id.startswith(shelf) for item_id in found)


def test_products_are_not_shown_again_while_the_visitor_talks_of_other_things(chat):
    cid = conversation(chat)
    assert shown(chat, cid, "we need tablets")
    assert shown(chat, cid, "I'm the head of purchasing, I decide") == []


def test_a_budget_caps_the_price_and_a_per_unit_budget_caps_each_unit(chat):
    cid = conversation(chat)
    assert set(shown(chat, cid, "we need monitors")) == {"mon-1", "mon-2", "mon-3"}
    assert set(shown(chat, cid, "about 500 EUR")) == {"mon-1", "mon-2"}


def test_the_budget_per_unit_divides_a_total_by_the_quantity():
    assert budget_per_unit({"amount": 10_000, "currency": "EUR", "quantity": 25}, currency="EUR") == 400
    assert budget_per_unit({"amount": 900, "currency": "EUR", "per_unit": 300}, currency="EUR") == 300
    assert budget_per_unit({"amount": 900, "currency": "GBP"}, currency="EUR") is None
    assert budget_per_unit(None, currency="EUR") is None


def test_a_need_finds_its_shelf_through_product_titles(shop):
    aisles = Aisles(shop.uow)
    assert aisles.match("a notebook").categories[0] == "laptops"  # a title word, not the category's name
    assert aisles.match("smartphone or phone").categories == ()
    assert aisles.match("the Lumen stuff").categories == ()  # a brand over several shelves names none


def test_the_bot_says_so_when_the_store_carries_nothing_that_fits(chat):
    cid = conversation(chat)
    turn = chat.post(f"/v1/conversations/{cid}/messages", json={"text": "we need a sofa"}).json
    assert turn["reply"]["items"] == []
    assert "don't carry" in turn["reply"]["text"]
    assert turn["reply"]["asks"]  # and the conversation goes on
    cid = conversation(chat)
    turn = chat.post(f"/v1/conversations/{cid}/messages", json={"text": "we need monitors, 200 EUR each"}).json
    assert turn["reply"]["items"] == []
    assert "budget" in turn["reply"]["text"]


def test_after_we_dont_carry_that_a_shelf_the_store_has_becomes_the_need(chat):
    cid = conversation(chat)
    chat.post(f"/v1/conversations/{cid}/messages", json={"text": "we need a sofa"})
    turn = chat.post(f"/v1/conversations/{cid}/messages", json={"text": "ok, then 3 tablets"}).json
    assert turn["lead"]["fields"]["need"]["category"] == "tablets"
    assert turn["reply"]["items"]
    assert all(item["item_id"].startswith("tab") for item in turn["reply"]["items"])
    assert "don't carry" not in turn["reply"]["text"]


@pytest.mark.parametrize(
    ("need", "shelf"), [("some earphones", "headphones"), ("a flat screen for my desk", "monitors")]
)
def test_a_need_that_shares_no_word_with_the_store_finds_its_shelf_by_meaning(shop, need, shelf):
    aisles = Aisles(shop.uow, embedder=shop.embedder)
    assert Aisles(shop.uow).match(need).categories == ()  # no word in common
    assert aisles.match(need).categories[:1] == (shelf,)


def test_meaning_does_not_invent_a_shelf_for_what_the_store_does_not_sell(shop):
    aisles = Aisles(shop.uow, embedder=shop.embedder)
    assert aisles.match("a drone").categories == ()
    assert aisles.match("a hammock for the garden").categories == ()


def test_a_store_without_shelves_matches_nothing_by_meaning(sqlite_database_url):
    services = bootstrap(Settings(database_url=sqlite_database_url))
    assert Aisles(services.uow, embedder=services.embedder).match("some earphones").categories == ()
    services.close()


def test_shown_products_carry_their_page_picture_and_recommendation_but_never_a_script_link(shop, chat):
    pages = {
        "lap-1": {"url": "https://shop.example/p/lap-1", "image_url": "https://cdn.shop.example/lap-1.jpg"},
        "lap-2": {"url": "javascript:alert(1)", "image_url": "data:text/html,<script>alert(1)</script>"},
    }
    for item_id, title, category, price in SHOP:
        if item_id in pages:
            items.put(uow=shop.uow(), item_id=item_id, title=title, category=category, price=price, currency="EUR",
                      attributes=pages[item_id])  # fmt: skip
    cid = conversation(chat)
    chat.post(f"/v1/conversations/{cid}/messages", json={"text": "a new notebook for work"})
    turn = chat.post(f"/v1/conversations/{cid}/messages", json={"text": "my budget is 3000 EUR"}).json
    cards = {item["item_id"]: item for item in turn["reply"]["items"]}
    assert cards["lap-1"]["url"] == "https://shop.example/p/lap-1"
    assert cards["lap-1"]["image_url"] == "https://cdn.shop.example/lap-1.jpg"
    assert (cards["lap-2"]["url"], cards["lap-2"]["image_url"]) == (None, None)  # shown, but with no link to click
    assert all(card["recommendation_id"] for card in cards.values())  # a click can say which pick it was
    line = chat.get(f"/v1/conversations/{cid}/messages?after=0").json[-1]
    assert {item["item_id"]: item["url"] for item in line["items"]} == {k: v["url"] for k, v in cards.items()}
