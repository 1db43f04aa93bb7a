"""Choosing training parameters: a random search judged on a validation period inside the training data, so
the test period that `train` reports on is never used to choose."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

import pandas as pd

from salesbot.recommender import evaluation
from salesbot.recommender.dataset import Store, build, weigh
from salesbot.recommender.pipeline import HOLDOUT_SHARE
from salesbot.recommender.training import Embeddings, Params, fit

SPACE: dict[str, list] = {
    "loss": ["warp", "warp", "bpr", "warp-kos"],  # warp twice: it is usually best for ranking
    "components": [32, 64, 128],
    "learning_rate": [0.02, 0.05, 0.1],
    "alpha": [0.0, 1e-6, 1e-5, 1e-4],
    "max_sampled": [10, 30],
    "customer_feature_share": [0.0, 0.1, 0.3],
}
CHECK_EVERY = 5
PATIENCE = 2


@dataclass(frozen=True)
class Trial:
    params: Params
    ndcg: float
    epochs: int  # where validation NDCG peaked


def candidates(trials: int, *, seed: int, max_epochs: int) -> list[Params]:
    """`trials` parameter sets drawn from SPACE, the default first so that tuning never does worse."""
    draw = random.Random(seed)
    chosen = [Params(epochs=max_epochs)]
    while len(chosen) < trials:
        pick = {name: draw.choice(values) for name, values in SPACE.items()}
        alpha = pick.pop("alpha")
        chosen.append(Params(**pick, item_alpha=alpha, user_alpha=alpha, epochs=max_epochs))
    return chosen


def tune(
    store: Store,
    weights: Mapping[str, float],
    *,
    now: datetime,
    trials: int = 12,
    max_epochs: int = 60,
    k: int = 10,
    seed: int = 7,
    on_trial: Callable[[Trial], None] = lambda trial: None,
) -> list[Trial]:
    """Every trial, best first. Each trains until validation NDCG@k stops improving (early stopping)."""
    train, validation = _validation_split(store, weights, now=now)
    results = []
    for params in candidates(trials, seed=seed, max_epochs=max_epochs):
        trial = _run(train, validation, params, weights=weights, k=k)
        on_trial(trial)
        results.append(trial)
    return sorted(results, key=lambda trial: trial.ndcg, reverse=True)


def _validation_split(store: Store, weights: Mapping[str, float], *, now: datetime) -> tuple[Store, pd.DataFrame]:
    """The training period of `train`'s own evaluation, split again: its last fifth validates."""
    times = store.events.occurred_at
    training = store.events[times < times.quantile(1 - HOLDOUT_SHARE)]
    cutoff = training.occurred_at.quantile(1 - HOLDOUT_SHARE)
    later = training[(training.occurred_at >= cutoff) & (weigh(training, weights, now=now) > 0)]
    return Store(training[training.occurred_at < cutoff], store.items, store.customers), later


def _run(train: Store, later: pd.DataFrame, params: Params, *, weights: Mapping[str, float], k: int) -> Trial:
    matrices = build(
        train, weights, now=train.events.occurred_at.max(), customer_feature_share=params.customer_feature_share
    )
    test = evaluation.holdout(matrices, later, new_items_only=True)
    history: list[tuple[float, int]] = []

    def stop(epoch: int, embeddings: Callable[[], Embeddings]) -> bool:
        if epoch % CHECK_EVERY:
            return False
        now = embeddings()
        blocks = evaluation.score_blocks(now.customer_vectors, now.item_vectors, now.item_biases, test.rows)
        history.append((evaluation.evaluate_scores(blocks, matrices, test, k=k, exclude_seen=True)[f"ndcg@{k}"], epoch))
        best_epoch = max(history)[1]
        return epoch - best_epoch >= PATIENCE * CHECK_EVERY

    fit(matrices, params, stop=stop)
    ndcg, epochs = max(history) if history else (0.0, params.epochs)
    return Trial(params=replace(params, epochs=epochs), ndcg=ndcg, epochs=epochs)
