"""Serving from candidates (each customer's precomputed shortlist, and for the blend what EASE and the trend
nominate, taken only when they provably beat every other item) answers exactly what scoring the whole catalog
would."""

import numpy as np
import pytest
from scipy import sparse

from salesbot.bootstrap import bootstrap
from salesbot.catalog import customers, events, items
from salesbot.config import Settings
from salesbot.recommender import blend, ease, evaluation, versions
from salesbot.recommender.serving import Filters
from salesbot.recommender.training import Embeddings

ITEMS, CUSTOMERS, COMPONENTS = 400, 12, 8
FILTERS = [
    Filters(),
    Filters(max_price=40),
    Filters(min_price=20, max_price=60, diversify=3),
    Filters(category="c-1"),
    Filters(exclude=frozenset({"i-1", "i-2", "i-3"}), include_purchased=True),
    Filters(in_stock=False, max_price=10),
]


@pytest.fixture
def shop(database_url):
    services = bootstrap(Settings(database_url=database_url, model_check_seconds=0))
    rng = np.random.default_rng(3)
    for n in range(ITEMS):
        price, category = str(rng.integers(1, 100)), f"c-{n % 4}"
        items.put(uow=services.uow(), item_id=f"i-{n}", title=f"Thing {n}", category=category, price=price,
                  currency="EUR", in_stock=bool(n % 7))  # fmt: skip
    bought = [
        {"customer_id": f"u-{n}", "item_id": f"i-{k}", "type": "purchase", "occurred_at": "2025-05-01T10:00:00Z"}
        for n in range(CUSTOMERS)
        for k in rng.integers(0, ITEMS, 5)
    ]
    customers.put(uow=services.uow(), customer_id="u-0")
    events.record(uow=services.uow(), events=bought, policy=services.event_policy)
    yield services
    services.close()


def blended(rng) -> dict:
    """The default blend's other parts: an item-to-item model over the 300 most active items, and a trend."""
    weights = sparse.random(300, 300, density=0.1, random_state=4, format="csr", dtype=np.float32)
    weights.setdiag(0)
    item_to_item = ease.ItemToItem(positions=np.sort(rng.choice(ITEMS, 300, replace=False)).astype(np.int32),
                                   weights=weights, catalog_size=ITEMS)  # fmt: skip
    config = blend.Config(params=blend.Params(), event_weights={"purchase": 5.0, "view": 1.0})
    return {"blend": config.dumps(), "item_to_item": item_to_item,
            "trend": np.log1p(rng.poisson(1.0, ITEMS)).astype(np.float32)}  # fmt: skip


def store_model(shop, rng, *, shortlists: bool, blend_parts: bool = False) -> str:
    embeddings = Embeddings(
        item_vectors=rng.standard_normal((ITEMS, COMPONENTS), dtype=np.float32),
        item_biases=rng.standard_normal(ITEMS, dtype=np.float32),
        customer_vectors=rng.standard_normal((CUSTOMERS, COMPONENTS), dtype=np.float32),
        customer_feature_vectors=np.zeros((1, COMPONENTS), dtype=np.float32),
        customer_feature_biases=np.zeros(1, dtype=np.float32),
    )
    artifact = versions.Artifact(
        item_ids=np.array([f"i-{n}" for n in range(ITEMS)]),
        customer_ids=np.array([f"u-{n}" for n in range(CUSTOMERS)]),
        customer_feature_names=np.array(["segment:none"]),
        popularity=np.ones(ITEMS, dtype=np.float32),
        embeddings=embeddings,
        shortlists=evaluation.shortlists(embeddings, 30) if shortlists else None,
        **(blended(rng) if blend_parts else {}),
    )
    version = versions.start(uow=shop.uow(), params={})
    versions.finish(uow=shop.uow(), version_id=version.id, artifact=artifact, data={}, metrics={})
    return version.id


def answers(shop, version_id):
    versions.activate(uow=shop.uow(), version_id=version_id)
    return [
        [(s.item_id, s.score) for s in shop.recommender.for_customer(f"u-{c}", n=10, filters=f).items]
        for c in range(CUSTOMERS)
        for f in FILTERS
    ]


def test_shortlists_answer_what_the_whole_catalog_would(shop):
    services = shop
    with_lists = store_model(services, np.random.default_rng(9), shortlists=True)
    without = store_model(services, np.random.default_rng(9), shortlists=False)
    fast, exact = answers(services, with_lists), answers(services, without)
    assert fast == exact
    assert all(len(answer) == 10 for answer in fast)


def test_the_blend_served_from_candidates_answers_what_the_whole_catalog_would(shop):
    fast = answers(shop, store_model(shop, np.random.default_rng(9), shortlists=True, blend_parts=True))
    exact = answers(shop, store_model(shop, np.random.default_rng(9), shortlists=False, blend_parts=True))
    assert [[item for item, _score in answer] for answer in fast] == [[item for item, _s in answer] for answer in exact]
    assert np.allclose([score for answer in fast for _item, score in answer],
                       [score for answer in exact for _item, score in answer], atol=1e-3)  # fmt: skip
    assert all(len(answer) == 10 for answer in fast)
