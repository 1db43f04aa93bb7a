"""A marketer's qualification schema is checked value by value, and no stored schema can take the chat down."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import update

from models import QualificationSchema
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.leads import qualification
from tests.conftest import keyed_client

BUDGET = {"name": "budget", "type": "money", "question": "Budget?", "required": True, "weight": 50}
TIMELINE = {"name": "timeline", "type": "timeline", "question": "When?", "required": True, "weight": 50}
SIZE = {"name": "size", "type": "company_size", "question": "How many people?", "weight": 10}
ROLE = {"name": "role", "type": "authority", "question": "Your role?", "weight": 10}


@pytest.fixture
def shop(database_url):
    services = bootstrap(Settings(database_url=database_url))
    yield services
    services.close()


@pytest.fixture
def marketer(shop):
    return keyed_client(shop, "marketer")


@pytest.fixture
def chat(shop):
    return keyed_client(shop, "server")


@pytest.mark.parametrize(
    ("field", "rule", "named"),
    [
        (BUDGET, {"min_amount": "lots"}, "fields.0.rule.min_amount"),
        (BUDGET, {"min_amount": [1]}, "fields.0.rule.min_amount"),
        (BUDGET, {"min_amount": True}, "fields.0.rule.min_amount"),
        (BUDGET, {"min_amount": -5}, "fields.0.rule.min_amount"),
        (BUDGET, {"currency": "euros"}, "fields.0.rule.currency"),
        (TIMELINE, {"max_days": "soon"}, "fields.0.rule.max_days"),
        (TIMELINE, {"max_days": None}, "fields.0.rule.max_days"),
        (SIZE, {"min": [1]}, "fields.0.rule.min"),
        (SIZE, {"min": 2.5}, "fields.0.rule.min"),
        (SIZE, {"min": 500, "max": 10}, "fields.0.rule.min"),
        (ROLE, {"decision_maker": "yes"}, "fields.0.rule.decision_maker"),
    ],
)
def test_rule_values_are_checked_by_the_fields_type(marketer, field, rule, named):
    before = marketer.get("/v1/qualification-schema").json["version"]
    answer = marketer.put("/v1/qualification-schema", json={"fields": [field | {"rule": rule}]})
    assert answer.status_code == 422
    assert named in answer.json["errors"]
    assert marketer.get("/v1/qualification-schema").json["version"] == before


@pytest.mark.parametrize(
    ("thresholds", "named"),
    [({"qualified": 70, "hot": 50}, "thresholds.hot"), ({"qualified": 40, "nurture": 60}, "thresholds.nurture")],
)
def test_inverted_thresholds_are_refused(marketer, thresholds, named):
    answer = marketer.put("/v1/qualification-schema", json={"fields": [BUDGET], "thresholds": thresholds})
    assert answer.status_code == 422
    assert named in answer.json["errors"]


def test_good_rules_save_and_round_trip(marketer):
    fields = [BUDGET | {"rule": {"min_amount": 250.5, "currency": "EUR"}}, SIZE | {"rule": {"min": 10, "max": 500}}]
    answer = marketer.put("/v1/qualification-schema", json={"fields": fields, "thresholds": {"hot": 90}})
    assert answer.status_code == 200, answer.json
    assert answer.json["fields"][0]["rule"] == {"min_amount": 250.5, "currency": "EUR"}
    assert answer.json["thresholds"]["hot"] == 90


@pytest.mark.parametrize(
    "stored_rule",
    [{"min_amount": "lots"}, {"min_amount": math.nan}, {"min_amount": [1]}, {"max_days": "soon"}, "not an object"],
)
def test_a_bad_schema_already_stored_cannot_take_the_chat_down(shop, chat, stored_rule):
    """Versions saved before values were checked still answer every turn: the bad rule is ignored."""
    sqlite = shop.engine.dialect.name == "sqlite"
    nan = isinstance(stored_rule, dict) and any(isinstance(v, float) and math.isnan(v) for v in stored_rule.values())
    if nan and not sqlite:
        pytest.skip("PostgreSQL's jsonb cannot hold NaN, so no such schema can be stored there")
    question = "Budget\ud800?" if sqlite else "Budget?"  # jsonb cannot hold a lone surrogate either
    saved = qualification.save(uow=shop.uow(), fields=[BUDGET, TIMELINE], thresholds={}, author=None)
    with shop.uow() as uow:
        fields = [BUDGET | {"rule": stored_rule, "question": question}, TIMELINE]
        uow.session.execute(
            update(QualificationSchema)
            .where(QualificationSchema.version == saved.version)
            .values(fields=fields, thresholds={"qualified": 60, "hot": "high"})
        )
        uow.commit()
    started = chat.post("/v1/conversations", json={"visitor_id": "v-1"})
    assert started.status_code == 201, started.json
    cid = started.json["conversation_id"]
    turn = chat.post(f"/v1/conversations/{cid}/messages", json={"text": "about 500 euros"})
    assert turn.status_code == 200, turn.json
    assert turn.json["lead"]["fields"]["budget"]["amount"] == 500
    turn = chat.post(f"/v1/conversations/{cid}/messages", json={"text": "within two weeks"})
    assert turn.status_code == 200, turn.json
    assert chat.get(f"/v1/conversations/{cid}").status_code == 200
