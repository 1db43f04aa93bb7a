"""Recommendations for customers, sessions and items, and the model versions behind them."""

from __future__ import annotations

import contextlib
import functools

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from webargs.fields import DelimitedList

from api.access import act_for, requires
from api.schemas import Money
from api.wiring import salesbot
from salesbot.access.roles import Role
from salesbot.recommender import pipeline, versions
from salesbot.recommender.results import Recommendations
from salesbot.recommender.serving import Filters

recommendations = Blueprint("recommendations", __name__, url_prefix="/v1", description="Products to show")
models = Blueprint("models", __name__, url_prefix="/v1/models", description="Trained recommendation models")


class FiltersIn(Schema):
    n = fields.Int(load_default=10, validate=validate.Range(min=1, max=100))
    category = fields.Str(load_default=None)
    min_price = fields.Float(load_default=None, validate=validate.Range(min=0))
    max_price = fields.Float(load_default=None, validate=validate.Range(min=0))
    in_stock = fields.Bool(load_default=True, metadata={"description": "Only items in stock (default true)"})
    exclude = DelimitedList(fields.Str(), load_default=list, metadata={"description": "Item ids, comma-separated"})
    include_purchased = fields.Bool(load_default=False)
    diversify = fields.Int(
        load_default=None, validate=validate.Range(min=1), metadata={"description": "Max per category"}
    )


class SessionIn(FiltersIn):
    item_ids = fields.List(fields.Str(), required=True, validate=validate.Length(min=1, max=100))


class SuggestionOut(Schema):
    item_id = fields.Str(required=True)
    title = fields.Str(required=True)
    price = Money(required=True)
    currency = fields.Str(required=True)
    category = fields.Str(allow_none=True)
    score = fields.Float(required=True)
    reason = fields.Str(required=True, metadata={"description": "Why this item, in a few true words"})


class RecommendationsOut(Schema):
    recommendation_id = fields.Str(required=True, metadata={"description": "Send it back with events it leads to"})
    model_version = fields.Str(required=True, allow_none=True)
    strategy = fields.Str(required=True, metadata={"description": "personal, features, session, similar or popular"})
    items = fields.List(fields.Nested(SuggestionOut), required=True)


# Instances, not classes: webargs would build a new schema (deep-copying its fields) for every request.
FILTERS_IN, SESSION_IN = FiltersIn(), SessionIn()
MONEY = Money()


def answered(recommendations: Recommendations) -> Response:
    """The JSON that `RecommendationsOut` would dump, written directly: marshmallow's dump of ten items cost about
    as much as ranking them (bench/serving.py). The schema still documents the answer; a test holds the two alike."""
    return current_app.json.response(
        {
            "recommendation_id": recommendations.recommendation_id,
            "model_version": recommendations.model_version,
            "strategy": recommendations.strategy,
            "items": [
                {
                    "item_id": item.item_id,
                    "title": item.title,
                    "price": _money(item.price),
                    "currency": item.currency,
                    "category": item.category,
                    "score": item.score,
                    "reason": item.reason,
                }
                for item in recommendations.items
            ],
        }
    )


@functools.lru_cache(maxsize=4096)  # a catalog has far fewer distinct prices than answers
def _money(price: float) -> str:
    return MONEY._serialize(price, None, None)


def filters_from(query: dict) -> tuple[int, Filters]:
    options = dict(query)
    n = options.pop("n")
    options.pop("item_ids", None)
    return n, Filters(**{**options, "exclude": frozenset(options["exclude"])})


@recommendations.route("/customers/<customer_id>/recommendations")
class CustomerRecommendations(MethodView):
    @requires(Role.SITE, Role.SERVER)
    @recommendations.arguments(FILTERS_IN, location="query")
    @recommendations.response(200, RecommendationsOut)
    def get(self, query, customer_id):
        """Items for a customer: personal when the model knows them, from their attributes when it does not,
        popular when nothing is known. Purchased items are left out unless asked for. A site key must send the
        customer's identity hash in X-Customer-Hash (see "Public keys and privacy" in the README)"""
        act_for(customer_id)
        n, filters = filters_from(query)
        return answered(salesbot().recommender.for_customer(customer_id, n=n, filters=filters))


@recommendations.route("/recommendations/session")
class SessionRecommendations(MethodView):
    @requires(Role.SITE, Role.SERVER)
    @recommendations.arguments(SESSION_IN)
    @recommendations.response(200, RecommendationsOut)
    def post(self, body):
        """Items for an anonymous visitor, from the items they viewed in this session"""
        n, filters = filters_from(body)
        return answered(salesbot().recommender.for_session(body["item_ids"], n=n, filters=filters))


@recommendations.route("/items/<item_id>/similar")
class SimilarItems(MethodView):
    @requires(Role.SITE, Role.SERVER)
    @recommendations.arguments(FILTERS_IN, location="query")
    @recommendations.response(200, RecommendationsOut)
    def get(self, query, item_id):
        """Items like this one (closest in the model's item space)"""
        n, filters = filters_from(query)
        return answered(salesbot().recommender.similar(item_id, n=n, filters=filters))


@recommendations.route("/items/popular")
class PopularItems(MethodView):
    @requires(Role.SITE, Role.SERVER)
    @recommendations.arguments(FILTERS_IN, location="query")
    @recommendations.response(200, RecommendationsOut)
    def get(self, query):
        """The most popular items, optionally in one category"""
        n, filters = filters_from(query)
        return answered(salesbot().recommender.popular(n=n, filters=filters))


class ModelOut(Schema):
    id = fields.Str(required=True)
    status = fields.Str(required=True, metadata={"description": "queued, training, ready or failed"})
    is_active = fields.Bool(required=True)
    created_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(allow_none=True)
    activated_at = fields.DateTime(allow_none=True)
    metrics = fields.Dict(required=True)
    error = fields.Str(allow_none=True)


class OnlineOut(Schema):
    served = fields.Int(required=True, metadata={"description": "Recommendation lists this version answered"})
    clicks = fields.Int(required=True, metadata={"description": "click events sent back with its recommendation_id"})
    add_to_cart = fields.Int(required=True)
    purchases = fields.Int(required=True)
    ctr = fields.Float(required=True, metadata={"description": "clicks / served"})
    conversion = fields.Float(required=True, metadata={"description": "purchases / served"})


class ModelDetailOut(ModelOut):
    online = fields.Nested(OnlineOut, required=True)
    params = fields.Dict(required=True)
    data = fields.Dict(required=True, metadata={"description": "Counts and time range of the data trained on"})
    artifact_sha256 = fields.Str(allow_none=True)


class TrainIn(Schema):
    epochs = fields.Int(load_default=30, validate=validate.Range(min=1, max=500))
    components = fields.Int(load_default=64, validate=validate.Range(min=2, max=512))
    loss = fields.Str(load_default="warp", validate=validate.OneOf(["warp", "bpr", "warp-kos", "logistic"]))


@models.route("")
class Models(MethodView):
    @requires(Role.ADMIN)
    @models.response(200, ModelOut(many=True))
    def get(self):
        """Model versions, newest first"""
        return versions.get_all(uow=salesbot().uow())

    @requires(Role.ADMIN)
    @models.arguments(TrainIn)
    @models.response(202, ModelOut)
    def post(self, options):
        """Train a new version in the background; follow it with GET /v1/models/{id}"""
        services = salesbot()
        plan = pipeline.Plan(params=pipeline.Params(**options))
        version = pipeline.start(uow=services.uow, plan=plan, queued=True)
        services.run_in_background(f"train-{version.id}", _train_here, services, version.id)
        return version


def _train_here(services, version_id: str) -> None:  # type: ignore[no-untyped-def]
    """Train the queued version in this process, unless a worker claimed it first. Should this process die
    mid-run, its heartbeat stops and a `salesbot worker` takes the job over."""
    version = versions.claim(uow=services.uow(), stale_after=pipeline.STALE_AFTER, version_id=version_id)
    if version is None:
        return
    with contextlib.suppress(Exception):  # a failure is recorded on the version itself and logged by train()
        pipeline.run_job(
            uow=services.uow,
            version=version,
            weights=services.settings.event_weights,
            artifacts=services.settings.artifacts,
        )


@models.route("/<model_id>")
class Model(MethodView):
    @requires(Role.ADMIN)
    @models.response(200, ModelDetailOut)
    def get(self, model_id):
        """One model version: parameters, data snapshot, offline metrics and how shoppers answered it online"""
        return versions.describe(uow=salesbot().uow, version_id=model_id)


@models.route("/<model_id>/activate")
class Activation(MethodView):
    @requires(Role.ADMIN)
    @models.response(200, ModelOut)
    def post(self, model_id):
        """Serve this version from now on (promote, or roll back to an older one)"""
        return versions.activate(uow=salesbot().uow(), version_id=model_id)
