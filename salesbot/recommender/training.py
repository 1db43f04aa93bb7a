"""Fitting LightFM: the only module that imports it. In goes `Interactions`, out come plain embeddings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from lightfm import LightFM
from scipy import sparse

from salesbot.recommender.dataset import Interactions


@dataclass(frozen=True)
class Params:
    loss: str = "warp"
    components: int = 64
    learning_rate: float = 0.05
    item_alpha: float = 1e-5
    user_alpha: float = 1e-5
    epochs: int = 30
    max_sampled: int = 10
    seed: int = 7
    customer_feature_share: float = 0.1  # of a customer's representation made of their attributes

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


@dataclass(frozen=True)
class Embeddings:
    """What serving needs: a vector and a bias per item and per customer, and per customer and item feature
    (to place customers who arrive with attributes but no history, and items added after training)."""

    item_vectors: np.ndarray
    item_biases: np.ndarray
    customer_vectors: np.ndarray
    customer_feature_vectors: np.ndarray
    customer_feature_biases: np.ndarray
    item_feature_vectors: np.ndarray | None = None  # older versions kept none
    item_feature_biases: np.ndarray | None = None


def fit(
    interactions: Interactions,
    params: Params,
    *,
    on_epoch: Callable[[int], None] = lambda epoch: None,
    stop: Callable[[int, Callable[[], Embeddings]], bool] | None = None,
    threads: int = 2,
) -> Embeddings:
    """Train on binary interactions weighted by the event weights; `on_epoch` is told after each epoch, and
    `stop(epoch, embeddings_now)` may end training early (it can look at the embeddings so far)."""
    # Canonical order (sorted, no duplicates): LightFM wants weights listed exactly like the interactions.
    weights = interactions.weights.tocsr().astype(np.float32).tocoo()
    seen = sparse.coo_matrix((np.ones_like(weights.data), (weights.row, weights.col)), shape=weights.shape)
    model = untrained(params)
    customer_features = interactions.customer_features.matrix
    item_features = interactions.item_features.matrix
    for epoch in range(params.epochs):
        model.fit_partial(
            seen,
            user_features=customer_features,
            item_features=item_features,
            sample_weight=None if params.loss == "warp-kos" else weights,  # k-OS takes no weights
            epochs=1,
            num_threads=threads,
        )
        on_epoch(epoch + 1)
        if stop is not None and stop(epoch + 1, lambda: _embeddings(model, customer_features, item_features)):
            break
    return _embeddings(model, customer_features, item_features)


def untrained(params: Params) -> LightFM:
    return LightFM(
        no_components=params.components,
        loss=params.loss,
        learning_rate=params.learning_rate,
        item_alpha=params.item_alpha,
        user_alpha=params.user_alpha,
        max_sampled=params.max_sampled,
        random_state=np.random.RandomState(params.seed),
    )


def _embeddings(model: LightFM, customer_features: sparse.csr_matrix, item_features: sparse.csr_matrix) -> Embeddings:
    item_biases, item_vectors = model.get_item_representations(item_features)
    _customer_biases, customer_vectors = model.get_user_representations(customer_features)
    return Embeddings(
        item_vectors=item_vectors.astype(np.float32),
        item_biases=item_biases.astype(np.float32),
        customer_vectors=customer_vectors.astype(np.float32),
        customer_feature_vectors=model.user_embeddings.astype(np.float32),
        customer_feature_biases=model.user_biases.astype(np.float32),
        item_feature_vectors=model.item_embeddings.astype(np.float32),
        item_feature_biases=model.item_biases.astype(np.float32),
    )
