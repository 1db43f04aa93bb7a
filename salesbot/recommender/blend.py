"""The model kinds and how their parts add up: EASE on each customer's fading history, LightFM, and what is
trending, each standardized per customer (mean 0, spread 1 over the catalog) and added with weights chosen on a
validation period. `blend` uses all three; `lightfm` and `ease` are the blend with one part."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from scipy import sparse

from salesbot.errors import InvalidInput
from salesbot.recommender import ease, evaluation
from salesbot.recommender.dataset import Interactions, Store, fading, weighted_matrix
from salesbot.recommender.training import Embeddings

__all__ = ["KINDS", "Config", "Fitted", "Params", "capped", "fading", "fit", "history_matrix", "score_blocks", "trend"]

KINDS = ("blend", "lightfm", "ease")
TIE_BREAK = 0.01  # the trend's weight in `ease`: orders what EASE scores alike (customers without history)


@dataclass(frozen=True)
class Params:
    kind: str = "blend"
    ease_l2: float = 100.0  # chosen on UCI Online Retail's validation month (bench/quality.py)
    ease_half_life_days: float | None = 120.0  # older events fade by half this often (None: all count fully)
    ease_max_items: int = ease.MAX_ITEMS
    ease_neighbours: int = 500  # weights kept per item for serving
    lightfm_weight: float = 0.25
    trend_weight: float = 0.5
    trend_days: int = 14

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidInput.for_field("kind", f"must be one of {', '.join(KINDS)}, not {self.kind!r}")

    def as_dict(self) -> dict[str, float | int | str | None]:
        return asdict(self)

    @property
    def parts(self) -> tuple[float, float, float]:
        """The weights of EASE, LightFM and the trend."""
        if self.kind == "lightfm":
            return 0.0, 1.0, 0.0
        if self.kind == "ease":
            return 1.0, 0.0, TIE_BREAK
        return 1.0, self.lightfm_weight, self.trend_weight

    @property
    def ease_params(self) -> ease.Params:
        return ease.Params(l2=self.ease_l2, max_items=self.ease_max_items, binary=False)


@dataclass(frozen=True)
class Config:
    """What serving needs besides the arrays: the blend's params and the event weights its history fades from."""

    params: Params
    event_weights: dict[str, float]

    def dumps(self) -> str:
        return json.dumps({"params": self.params.as_dict(), "event_weights": self.event_weights})

    @classmethod
    def loads(cls, text: str) -> Config:
        found = json.loads(text)
        return cls(params=Params(**found["params"]), event_weights=found["event_weights"])


def capped(weights: np.ndarray, event_weights: Mapping[str, float]) -> np.ndarray:
    """Summed faded weights on EASE's scale: one purchase today counts 1, and nothing counts more."""
    return np.minimum(weights / max([*event_weights.values(), 1e-9]), 1.0).astype(np.float32)


def history_matrix(faded: sparse.spmatrix, event_weights: Mapping[str, float]) -> sparse.csr_matrix:
    """Customers x items of summed faded event weights, capped: what EASE is fitted on and scores."""
    matrix = sparse.csr_matrix(faded, dtype=np.float32)
    matrix.sum_duplicates()
    matrix.data = capped(matrix.data, event_weights)
    return matrix


def trend(
    events: pd.DataFrame, item_ids: np.ndarray, event_weights: Mapping[str, float], *, now: datetime, days: int
) -> np.ndarray:
    """How many customers took up each item in the `days` before `now` (or before the last event, when the store
    has been quiet since), on a log scale."""
    events = events[events.type.map(event_weights).fillna(0.0) > 0]
    if events.empty:
        return np.zeros(len(item_ids), dtype=np.float32)
    until = min(pd.Timestamp(now), events.occurred_at.max())
    recent = events[(events.occurred_at >= until - pd.Timedelta(days=days)) & (events.occurred_at <= until)]
    recent = recent.drop_duplicates(["customer_id", "item_id"])
    columns = pd.Index(item_ids).get_indexer(recent.item_id)
    return np.log1p(np.bincount(columns[columns >= 0], minlength=len(item_ids))).astype(np.float32)


def standardized(scores: np.ndarray) -> np.ndarray:
    """Per row: mean 0, spread 1 (rows where every score is alike, such as EASE without history, become 0)."""
    scores = np.asarray(scores, dtype=np.float64)
    spread = scores.std(axis=-1, keepdims=True)
    centred = scores - scores.mean(axis=-1, keepdims=True)
    return np.divide(centred, spread, where=spread > 0, out=np.zeros_like(scores))


@dataclass(frozen=True)
class Fitted:
    """A trained blend for scoring many customers at once (evaluation): its parts over one item order."""

    params: Params
    embeddings: Embeddings
    item_to_item: ease.ItemToItem | None
    history: sparse.csr_matrix  # customers x items, faded and capped
    trend: np.ndarray  # customers per item lately, log scale


def fit(
    store: Store,
    interactions: Interactions,
    embeddings: Embeddings,
    params: Params,
    event_weights: Mapping[str, float],
    *,
    now: datetime,
    on_step: Callable[[str], None] = lambda step: None,
) -> Fitted:
    """The blend's other parts next to a fitted LightFM, over the same customers and items: EASE on the faded
    history (when the kind uses it) and the trend."""
    customers, items = pd.Index(interactions.customer_ids), pd.Index(interactions.item_ids)
    # Faded from the last event, not the clock: a store quiet for months keeps its model (serving standardizes
    # each customer's scores, so only the fading between their own events matters there).
    latest = min(pd.Timestamp(now), store.events.occurred_at.max()) if not store.events.empty else now
    faded = weighted_matrix(
        store.events, event_weights, customers, items, now=latest, half_life_days=params.ease_half_life_days
    )
    history = history_matrix(faded, event_weights)
    item_to_item = ease.fit(history, params.ease_params, on_step=on_step) if params.parts[0] else None
    if item_to_item is not None:
        item_to_item = ease.sparsified(item_to_item, params.ease_neighbours)
    raw = trend(store.events, interactions.item_ids, event_weights, now=now, days=params.trend_days)
    return Fitted(params=params, embeddings=embeddings, item_to_item=item_to_item, history=history, trend=raw)


def score_blocks(fitted: Fitted, rows: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Blended scores of every item for `rows`, a block of customers at a time."""
    on_ease, on_lightfm, on_trend = fitted.params.parts
    found, trend_now = fitted.embeddings, standardized(fitted.trend)
    for block, lightfm in evaluation.score_blocks(found.customer_vectors, found.item_vectors, found.item_biases, rows):
        scores = on_lightfm * standardized(lightfm) if on_lightfm else np.zeros(lightfm.shape)
        if on_ease and fitted.item_to_item is not None:
            scores += on_ease * standardized(ease.score(fitted.item_to_item, fitted.history[block], binary=False))
        yield block, scores + on_trend * trend_now
