"""Serving scores one customer exactly as evaluation scores many: the same standardized parts, the same weights,
so the version a store activates on its held-out NDCG is the one its shoppers get."""

import numpy as np
import pytest
from scipy import sparse

from salesbot.recommender import blend, ease
from salesbot.recommender.scorer import Parts
from salesbot.recommender.training import Embeddings

WEIGHTS = {"view": 1.0, "add_to_cart": 3.0, "purchase": 5.0}


def fitted(kind: str, seed: int = 3) -> blend.Fitted:
    rng = np.random.default_rng(seed)
    customers, items = 60, 300
    history = sparse.random(customers, items, density=0.05, random_state=seed, format="csr", dtype=np.float32)
    history.data = np.minimum(history.data * 2, 1.0)
    item_to_item = ease.sparsified(ease.fit(history, ease.Params(l2=5.0, max_items=250, binary=False)), 40)
    embeddings = Embeddings(
        item_vectors=rng.standard_normal((items, 8), dtype=np.float32),
        item_biases=rng.standard_normal(items, dtype=np.float32),
        customer_vectors=rng.standard_normal((customers, 8), dtype=np.float32),
        customer_feature_vectors=np.zeros((1, 8), dtype=np.float32),
        customer_feature_biases=np.zeros(1, dtype=np.float32),
    )
    trend = np.log1p(rng.poisson(1.0, items)).astype(np.float32)
    params = blend.Params(kind=kind, lightfm_weight=0.4, trend_weight=0.3)
    return blend.Fitted(params=params, embeddings=embeddings, item_to_item=item_to_item, history=history, trend=trend)


@pytest.mark.parametrize("kind", blend.KINDS)
def test_one_customer_at_request_time_scores_as_evaluation_does(kind):
    model = fitted(kind)
    rows = np.arange(len(model.embeddings.customer_vectors))
    batch = np.vstack([scores for _block, scores in blend.score_blocks(model, rows)])
    config = blend.Config(params=model.params, event_weights=WEIGHTS)
    found = model.embeddings
    parts = Parts.of(config, model.item_to_item, model.trend, found.item_vectors, found.item_biases,
                     len(found.item_biases))  # fmt: skip
    for row in rows:
        history = model.history[row]
        scored = parts.scorer(found.customer_vectors[row], history.indices, history.data)
        assert scored.score(None) == pytest.approx(batch[row], abs=1e-4)
        some = np.array([5, 17, 250, 299])
        assert scored.score(some) == pytest.approx(batch[row][some], abs=1e-4)


def test_the_parts_nominate_the_blends_best_items():
    model = fitted("blend")
    found = model.embeddings
    parts = Parts.of(blend.Config(model.params, WEIGHTS), model.item_to_item, model.trend, found.item_vectors,
                     found.item_biases, len(found.item_biases))  # fmt: skip
    history = model.history[7]
    scored = parts.scorer(None, history.indices, history.data)  # no LightFM vector: EASE and the trend only
    best = np.argsort(-scored.score(None))[:10]
    assert set(best) <= set(scored.nominated.tolist())


def test_an_old_history_fades_and_the_newest_events_count_most():
    config = blend.Config(blend.Params(ease_half_life_days=30.0), WEIGHTS)
    nothing = np.zeros(300, np.float32)
    parts = Parts.of(config, fitted("blend").item_to_item, nothing, np.zeros((300, 8), np.float32), nothing, 300)
    items, weights = parts.faded(np.array([4, 4, 9, -1]), ["view", "purchase", "purchase", "purchase"],
                                 np.array([0.0, 60.0, 0.0, 0.0]))  # fmt: skip
    assert items.tolist() == [4, 9]  # unknown items (-1) are left out; an item's events add up
    assert weights.tolist() == pytest.approx([1 / 5 + 0.25, 1.0])  # a view now + a purchase two half-lives ago
