"""A marketer sets the widget's proactive triggers through the API; the widget's loader reads the active ones with
the public site key, and a bad trigger is refused by the field that is wrong with nothing saved."""

import pytest

from salesbot.access.roles import Role

TRIGGERS, SETTINGS = "/v1/widget/triggers", "/v1/widget/settings"
LINGER = {"name": "Linger", "kind": "time_on_page", "seconds": 30, "message": "Can I help you choose?"}
BIG_CART = {"name": "Big cart", "kind": "cart_value", "amount": 150.0, "message": "Free shipping over 150!"}


@pytest.fixture
def marketer(as_role):
    return as_role(Role.MARKETER)


def create(client, marketer, **values):
    response = client.post(TRIGGERS, json=values, headers=marketer)
    assert response.status_code == 201, response.json
    return response.json


def test_a_created_trigger_is_listed_and_readable(client, marketer):
    made = create(client, marketer, **LINGER)
    assert made["id"].startswith("trg_")
    assert made | LINGER == made
    assert (made["max_shows"], made["hours_between"], made["active"], made["priority"]) == (1, 24, True, 0)
    assert client.get(TRIGGERS, headers=marketer).json == [made]
    assert client.get(f"{TRIGGERS}/{made['id']}", headers=marketer).json == made


def test_the_site_gets_only_the_active_triggers_highest_priority_first(client, marketer, as_role):
    site = as_role(Role.SITE)
    low = create(client, marketer, **LINGER, priority=1)
    create(client, marketer, **LINGER | {"name": "Paused", "priority": 9, "active": False})
    high = create(client, marketer, **BIG_CART, priority=5)
    response = client.get(SETTINGS, headers=site)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, max-age=60"
    assert response.json == {
        "triggers": [
            {"trigger_id": high["id"], "kind": "cart_value", "seconds": None, "amount": 150.0, "category": None,
             "message": "Free shipping over 150!", "max_shows": 1, "hours_between": 24},
            {"trigger_id": low["id"], "kind": "time_on_page", "seconds": 30, "amount": None, "category": None,
             "message": "Can I help you choose?", "max_shows": 1, "hours_between": 24},
        ]
    }  # fmt: skip


def test_a_patch_changes_what_is_sent_and_the_site_sees_it(client, marketer, as_role):
    site = as_role(Role.SITE)
    made = create(client, marketer, **LINGER)
    changed = client.patch(f"{TRIGGERS}/{made['id']}", json={"seconds": 45, "max_shows": 3}, headers=marketer)
    assert changed.status_code == 200
    assert (changed.json["seconds"], changed.json["max_shows"], changed.json["message"]) == (45, 3, LINGER["message"])
    paused = client.patch(f"{TRIGGERS}/{made['id']}", json={"active": False}, headers=marketer)
    assert paused.json["active"] is False
    assert client.get(SETTINGS, headers=site).json == {"triggers": []}


def test_a_new_kind_takes_its_own_setting(client, marketer):
    made = create(client, marketer, **LINGER)
    path = f"{TRIGGERS}/{made['id']}"
    refused = client.patch(path, json={"kind": "viewed_category"}, headers=marketer)
    assert refused.status_code == 422
    assert list(refused.json["errors"]) == ["category"]
    changed = client.patch(path, json={"kind": "viewed_category", "category": "Shoes"}, headers=marketer)
    assert changed.json | {"kind": "viewed_category", "category": "Shoes", "seconds": None} == changed.json


def test_delete_removes_the_trigger(client, marketer, as_role):
    site = as_role(Role.SITE)
    made = create(client, marketer, **LINGER)
    assert client.delete(f"{TRIGGERS}/{made['id']}", headers=marketer).status_code == 204
    assert client.get(f"{TRIGGERS}/{made['id']}", headers=marketer).status_code == 404
    assert client.get(TRIGGERS, headers=marketer).json == []
    assert client.get(SETTINGS, headers=site).json == {"triggers": []}


def test_a_site_key_cannot_create_or_change_triggers(client, marketer, as_role):
    site = as_role(Role.SITE)
    refused = client.post(TRIGGERS, json=LINGER, headers=site)
    assert refused.status_code == 403
    assert "site" in refused.json["detail"]
    made = create(client, marketer, **LINGER)
    assert client.patch(f"{TRIGGERS}/{made['id']}", json={"message": "Buy now"}, headers=site).status_code == 403
    assert client.get(TRIGGERS, headers=marketer).json == [made]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (LINGER | {"kind": "popup"}, "kind", "Must be one of"),
        (LINGER | {"seconds": 0}, "seconds", "greater than or equal to 1"),
        (LINGER | {"message": "x" * 501}, "message", "Length must be between 1 and 500"),
        (LINGER | {"message": "   "}, "message", "must not be empty"),
        (LINGER | {"colour": "red"}, "colour", "Unknown field"),
        (LINGER | {"max_shows": 101}, "max_shows", "less than or equal to 100"),
        (LINGER | {"hours_between": -1}, "hours_between", "greater than or equal to 0"),
        (BIG_CART | {"amount": None}, "amount", "a cart_value trigger needs the cart total that fires it"),
        (BIG_CART | {"amount": 0}, "amount", "greater than 0"),
        (LINGER | {"kind": "exit_intent"}, "seconds", "only time_on_page triggers take seconds"),
        ({"name": "No message", "kind": "exit_intent"}, "message", "Missing data"),
    ],
)
def test_a_bad_trigger_is_refused_by_its_field_and_nothing_is_saved(client, marketer, body, field, words):
    response = client.post(TRIGGERS, json=body, headers=marketer)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert words in " ".join(response.json["errors"][field])
    assert client.get(TRIGGERS, headers=marketer).json == []


def test_a_bad_patch_leaves_the_trigger_as_it_was(client, marketer):
    made = create(client, marketer, **LINGER)
    response = client.patch(f"{TRIGGERS}/{made['id']}", json={"message": "New words", "seconds": 0}, headers=marketer)
    assert response.status_code == 422
    assert "seconds" in response.json["errors"]
    assert client.get(f"{TRIGGERS}/{made['id']}", headers=marketer).json == made


def test_a_body_that_is_not_json_gets_400(client, marketer):
    response = client.post(TRIGGERS, data="{not json", content_type="application/json", headers=marketer)
    assert response.status_code == 400
    assert client.get(TRIGGERS, headers=marketer).json == []
