"""The recommendation routes write their JSON directly; it must be what the documented schema would dump."""

import json

import pytest

from api.recommender import RecommendationsOut, answered
from salesbot.recommender.results import Recommendations, Suggestion


@pytest.mark.parametrize("price", [19.99, 5.0, 100, 0.5, 1234567.891, 0.0])
def test_the_answer_is_what_the_schema_dumps(app, price):
    recommendations = Recommendations(
        recommendation_id="rec_v1_personal_abc",
        model_version="v1",
        strategy="personal",
        items=[
            Suggestion("sku-1", 'Läufer "Nord"', price, "EUR", "rugs", 0.1234, "you bought it recently"),
            Suggestion("sku-2", "Lamp", price, "USD", None, -3.5, "popular right now"),
        ],
    )
    with app.app_context():
        written = answered(recommendations)
        assert json.loads(written.get_data()) == RecommendationsOut().dump(recommendations)
        assert written.mimetype == "application/json"


def test_an_answer_without_a_model_is_what_the_schema_dumps(app):
    recommendations = Recommendations("rec_none_popular_x", None, "popular", [])
    with app.app_context():
        assert json.loads(answered(recommendations).get_data()) == RecommendationsOut().dump(recommendations)
