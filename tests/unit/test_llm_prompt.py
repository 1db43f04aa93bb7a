"""The LLM works from the same facts as the rules brain: what was declined, what the store carries, what fits."""

import json
from datetime import date

from salesbot.conversation.brains import Context
from salesbot.conversation.llm import prompt
from salesbot.leads.qualification import DEFAULT_FIELDS, Schema, Thresholds


def test_the_prompt_carries_declines_the_stores_shelves_and_an_honest_no_fit():
    schema = Schema(version=1, fields=DEFAULT_FIELDS, thresholds=Thresholds())
    context = Context(
        message="a sofa, and I'd rather not say my budget",
        schema=schema,
        known={"need": {"text": "a sofa", "category": None}},
        asked="budget",
        history=(),
        faqs=(),
        products=(),
        categories=("laptops", "tablets"),
        offer=None,
        today=date(2026, 11, 27),
        currency="EUR",
        region="DE",
        declined=("budget",),
        unfit="not carried",
    )
    data = json.loads(prompt(context)[1]["content"])
    assert data["declined_fields"] == ["budget"]
    assert data["next_field"]["name"] == "timeline"  # never the declined budget again
    assert data["no_product_fits"] == "not carried"
    assert data["store_categories"] == ["laptops", "tablets"]
