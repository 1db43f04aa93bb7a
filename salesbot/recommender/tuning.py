"""Choosing the model kind and its parameters on a validation period inside the training data, so the test period
that `train` reports on is never used to choose: a random search of LightFM's parameters with early stopping, then
a grid of the item-to-item model's and the blend's over the best LightFM."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

import pandas as pd

from salesbot.recommender import blend, evaluation
from salesbot.recommender.dataset import Interactions, Store, build, weigh
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
EASE_L2 = [100.0, 250.0, 500.0, 1000.0]
HALF_LIVES = [None, 60.0, 120.0, 240.0]  # days
LIGHTFM_WEIGHTS = [0.1, 0.25, 0.5, 1.0]
TREND_WEIGHTS = [0.0, 0.2, 0.5]
CHECK_EVERY = 5
PATIENCE = 2


@dataclass(frozen=True)
class Trial:
    params: Params
    ndcg: float
    epochs: int  # where validation NDCG peaked
    blend: blend.Params = field(default_factory=lambda: blend.Params(kind="lightfm"))


class BlendSearch:
    """One split's blend parts for scoring many choices: LightFM given, EASE fitted once per (lambda, half-life),
    so a grid of weights costs no refits."""

    def __init__(
        self, store: Store, train: Interactions, test: evaluation.Holdout, embeddings: Embeddings,
        weights: Mapping[str, float], *, now: datetime, k: int = 10,
    ) -> None:  # fmt: skip
        self.store, self.train, self.test, self.embeddings = store, train, test, embeddings
        self.weights, self.now, self.k = weights, now, k
        self._fitted: dict[tuple[float, float | None], blend.Fitted] = {}

    def fitted(self, choice: blend.Params) -> blend.Fitted:
        key = (choice.ease_l2, choice.ease_half_life_days)
        if key not in self._fitted:
            self._fitted[key] = blend.fit(self.store, self.train, self.embeddings, replace(choice, kind="blend"),
                                          self.weights, now=self.now)  # fmt: skip
        return replace(self._fitted[key], params=choice)

    def figures(self, choice: blend.Params) -> dict[str, float]:
        blocks = blend.score_blocks(self.fitted(choice), self.test.rows)
        return evaluation.evaluate_scores(blocks, self.train, self.test, k=self.k, exclude_seen=True)

    def ndcg(self, choice: blend.Params) -> float:
        return self.figures(choice)[f"ndcg@{self.k}"]


def blend_grid() -> list[blend.Params]:
    """The item-to-item model alone, and the blend, over their grids."""
    alone = [blend.Params(kind="ease", ease_l2=l2, ease_half_life_days=days)
             for l2, days in itertools.product(EASE_L2, HALF_LIVES)]  # fmt: skip
    mixed = [
        blend.Params(ease_l2=l2, ease_half_life_days=days, lightfm_weight=lightfm, trend_weight=trend)
        for l2, days, lightfm, trend in itertools.product(EASE_L2, HALF_LIVES, LIGHTFM_WEIGHTS, TREND_WEIGHTS)
    ]
    return alone + mixed


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
    kinds: tuple[str, ...] = blend.KINDS,
    on_trial: Callable[[Trial], None] = lambda trial: None,
) -> list[Trial]:
    """Every trial, best first: LightFM's (each trained until validation NDCG@k stops improving), then the
    item-to-item model's and the blend's over the best LightFM."""
    train, validation = _validation_split(store, weights, now=now)
    results = []
    for params in candidates(trials, seed=seed, max_epochs=max_epochs):
        trial = _run(train, validation, params, weights=weights, k=k)
        on_trial(trial)
        results.append(trial)
    best = max(results, key=lambda trial: trial.ndcg)
    grid = [choice for choice in blend_grid() if choice.kind in kinds]
    if grid:
        parts = _parts(train, validation, best.params, weights=weights, k=k)
        for choice in grid:
            trial = Trial(params=best.params, ndcg=parts.ndcg(choice), epochs=best.epochs, blend=choice)
            on_trial(trial)
            results.append(trial)
    if "lightfm" not in kinds:
        results = [trial for trial in results if trial.blend.kind != "lightfm"]
    return sorted(results, key=lambda trial: trial.ndcg, reverse=True)


def _parts(train: Store, later: pd.DataFrame, params: Params, *, weights: Mapping[str, float], k: int) -> BlendSearch:
    matrices = build(
        train, weights, now=train.events.occurred_at.max(), customer_feature_share=params.customer_feature_share
    )
    test = evaluation.holdout(matrices, later, new_items_only=True)
    cutoff = later.occurred_at.min().to_pydatetime()
    return BlendSearch(train, matrices, test, fit(matrices, params), weights, now=cutoff, k=k)


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
