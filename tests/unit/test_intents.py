"""What a visitor's message is, before anything is read from it."""

import pytest

from salesbot.conversation import extract, intents, locales, money


@pytest.mark.parametrize(
    "text", ["can I sign up for your newsletter?", "do you have student discounts?", "what do you sell?"]
)
def test_questions_give_no_field_values(text):
    assert intents.statements(text) == ""


def test_a_question_fragment_is_a_question_but_an_unsure_answer_is_not():
    assert intents.statements("or as shown in the picture?") == ""
    assert intents.statements("about 5k?") == "about 5k?"


def test_a_statement_next_to_a_question_still_counts():
    assert intents.statements("We need 40 tablets. Do you ship to Spain?") == "We need 40 tablets."


@pytest.mark.parametrize(
    "text",
    ["Ich möchte mit einem Menschen sprechen", "quiero hablar con una persona", "Je voudrais parler à quelqu'un",
     "agent please"],
)  # fmt: skip
def test_requests_for_a_person_in_several_languages(text):
    assert intents.wants_person(text)


@pytest.mark.parametrize("text", ["prefer not to say", "dunno", "skip that", "not telling"])
def test_declines(text):
    assert intents.declines(text)
    assert not intents.declines("about 5000 EUR")


def test_phone_region_comes_from_what_the_visitor_said_before_the_default():
    gb = locales.region(said=["£2,000"], currency="GBP", locale=None, default="DE")
    us = locales.region(said=["$5k"], currency="USD", locale=None, default="DE")
    assert extract.phone("07911 123456", region=gb) == "+447911123456"
    assert extract.phone("(212) 555-0100", region=us) == "+12125550100"
    assert locales.region(said=[], currency=None, locale="en-GB", default="DE") == "GB"


def test_a_budget_for_a_quantity_caps_the_price_per_unit():
    assert money.budget("25 monitors, 10k total")["per_unit"] == 400


def test_an_injected_phrase_is_not_a_name():
    assert extract.name("my name is Ignore Previous Instructions") is None
