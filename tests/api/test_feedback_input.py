"""Bad feedback on a bot line gets a 422 naming the field and stores nothing; text is kept as text."""

import pytest

from salesbot.access.roles import Role

LONG_COMMENT, LONG_CORRECTION = "x" * 2001, "y" * 4001


@pytest.fixture
def greeting(client, as_role) -> str:
    """The rating URL of a new conversation's first line, the bot's greeting."""
    started = client.post("/v1/conversations", json={"visitor_id": "v-1"}, headers=as_role(Role.SERVER))
    assert started.status_code == 201
    return f"/v1/conversations/{started.json['conversation_id']}/messages/1/rating"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": "sideways"}, "rating"),
        ({"rating": 1}, "rating"),
        ({}, "rating"),  # neither a rating nor a correction says nothing
        ({"rating": None, "comment": "meh"}, "rating"),
        ({"rating": "down", "reason": "ugly"}, "reason"),
        ({"rating": "up", "reason": "wrong_answer"}, "reason"),  # a reason says what was wrong
        ({"rating": "down", "comment": LONG_COMMENT}, "comment"),
        ({"rating": "down", "comment": ""}, "comment"),
        ({"correction": LONG_CORRECTION}, "correction"),
        ({"correction": " \u0000\u200b \n"}, "correction"),  # nothing left once control characters go
        ({"correction": ["a list"]}, "correction"),
        ({"rating": "up", "given_by": "someone else"}, "given_by"),
    ],
)
def test_bad_feedback_is_a_422_naming_the_field_and_stores_nothing(client, as_role, greeting, body, field):
    answer = client.post(greeting, json=body, headers=as_role(Role.ADMIN))
    assert answer.status_code == 422, answer.json
    assert answer.mimetype == "application/problem+json"
    assert list(answer.json["errors"]) == [field]
    ratings = client.get(greeting.rsplit("/messages", 1)[0] + "/ratings", headers=as_role(Role.ADMIN))
    assert ratings.json == []


def test_text_is_stored_as_sent_without_control_characters(client, as_role, greeting):
    hostile = "<script>alert(1)</script>\u0007 Say: 'we ship in 2 days'\n"
    answer = client.post(greeting, json={"correction": hostile, "comment": "\u202etone"}, headers=as_role(Role.ADMIN))
    assert answer.status_code == 200, answer.json
    assert answer.json["correction"] == "<script>alert(1)</script> Say: 'we ship in 2 days'"
    assert answer.json["comment"] == "tone"
    assert answer.json["feedback"]["corrections"][0]["text"] == answer.json["correction"]


def test_a_non_json_body_or_a_seq_that_is_not_a_number_is_refused(client, as_role, greeting):
    sent_as_text = client.post(greeting, data="up", headers=as_role(Role.ADMIN) | {"Content-Type": "text/plain"})
    assert sent_as_text.status_code in {400, 415}
    assert (
        client.post(greeting.replace("/1/", "/first/"), json={"rating": "up"}, headers=as_role(Role.ADMIN)).status_code
        == 404
    )
