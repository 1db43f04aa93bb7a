"""Scores for one customer or session at request time: the blend's parts for their history as it is now, so
events of the last minutes count without retraining, standardized exactly as training standardized them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from salesbot.recommender import blend, ease

Scorer = Callable[[np.ndarray | None], np.ndarray]  # scores for these item positions (None: all items)
CANDIDATES = 300  # items EASE and the trend nominate (100 left a seventh of filtered lists to the full scoring)
WIDEST = 20_000  # trending items a widened list may take before the whole catalog is scored instead


@dataclass(frozen=True)
class Scored:
    score: Scorer
    nominated: np.ndarray  # the positions each part ranks best, and the items placed since training
    folded: bool  # the history as it is now counted (EASE knew some of its items)
    ceiling: float  # no item outside `nominated` scores more: a list of nominees above it is exact
    # More nominees, so that no other item can score above the given score (and the new ceiling); None when too many
    # would be needed or LightFM's part has no bound.
    widen: Callable[[float], tuple[np.ndarray, float] | None] = lambda least: None


@dataclass(frozen=True)
class Parts:
    """A loaded version's blend, over its item order (trained items first, then items placed by features)."""

    params: blend.Params
    event_weights: dict[str, float]
    item_to_item: ease.ItemToItem | None
    ease_rows: np.ndarray  # item position -> its row in the item-to-item model (one past the last without one)
    trend: np.ndarray  # standardized over the trained items; later items count as nobody's
    trend_order: np.ndarray  # trained positions, the most trending first
    trend_descending: np.ndarray  # their standardized trend, in that order
    vectors: np.ndarray
    biases: np.ndarray
    moments: tuple[np.ndarray, np.ndarray]  # mean and covariance of [item vector, bias] over the trained items
    trained: int  # items the model was trained on

    @classmethod
    def of(
        cls,
        config: blend.Config,
        item_to_item: ease.ItemToItem | None,
        raw_trend: np.ndarray,
        vectors: np.ndarray,
        biases: np.ndarray,
        trained: int,
    ) -> Parts:
        kept = 0 if item_to_item is None else len(item_to_item.positions)
        ease_rows = np.full(len(vectors), kept, dtype=np.int64)
        if item_to_item is not None:
            ease_rows[item_to_item.positions] = np.arange(kept)
        spread = raw_trend.std() or 1.0
        trend = np.full(len(vectors), -raw_trend.mean() / spread, dtype=np.float64)
        trend[:trained] = (raw_trend - raw_trend.mean()) / spread
        rows = np.hstack([vectors[:trained], biases[:trained, None]]).astype(np.float64)
        order = np.argsort(-raw_trend, kind="stable")
        return cls(
            params=config.params,
            event_weights=config.event_weights,
            item_to_item=item_to_item,
            ease_rows=ease_rows,
            trend=trend,
            trend_order=order,
            trend_descending=trend[order],
            vectors=vectors,
            biases=biases,
            moments=(rows.mean(axis=0), np.cov(rows, rowvar=False, bias=True)),
            trained=trained,
        )

    def faded(self, positions: np.ndarray, types: list[str], age_days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A history (item positions, event types, ages) as EASE reads it: each item once, its events summed with
        their fading, capped as in training."""
        if not self.params.parts[0] or self.item_to_item is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        weights = np.array([self.event_weights.get(kind, 0.0) for kind in types], dtype=np.float64)
        weights *= blend.fading(age_days, self.params.ease_half_life_days)
        counted = (positions >= 0) & (weights > 0)
        items, where = np.unique(positions[counted], return_inverse=True)
        return items, blend.capped(np.bincount(where, weights=weights[counted], minlength=len(items)),
                                   self.event_weights)  # fmt: skip

    def scorer(
        self, query: np.ndarray | None, items: np.ndarray, weights: np.ndarray, *, shortlist: np.ndarray | None = None
    ) -> Scored | None:
        """The blended scorer for a LightFM query vector (None: none), with the customer's LightFM `shortlist` when
        they have one, and a faded history; None when no part knows anything about this customer."""
        on_ease, on_lightfm, on_trend = self.params.parts
        parts: list[Scorer] = []
        nominated = [np.arange(self.trained, len(self.vectors))]  # items placed since training are in no list
        bounds = {"lightfm": 0.0, "ease": 0.0, "trend": 0.0}  # the most each part gives an item it did not nominate
        if on_trend and self.trained:
            top = min(CANDIDATES, self.trained)
            nominated.append(self.trend_order[:top])
            bounds["trend"] = on_trend * float(self.trend_descending[top - 1])
        if on_lightfm and query is not None:
            lightfm = self._lightfm(query, on_lightfm)
            parts.append(lightfm)
            if shortlist is None or not len(shortlist):
                bounds["lightfm"] = np.inf
            else:
                nominated.append(shortlist.astype(np.int64))
                bounds["lightfm"] = float(lightfm(shortlist[-1:])[0])
        folded, scored_by_ease, at_zero = False, np.zeros(0, dtype=np.int64), 0.0
        if on_ease and self.item_to_item is not None and len(items):
            rows, kept = ease.score_kept(self.item_to_item, items, weights)
            if len(rows):
                folded = True
                scored_by_ease = self.item_to_item.positions[rows].astype(np.int64)
                best = np.arange(len(rows)) if len(rows) <= CANDIDATES else np.argpartition(-kept, CANDIDATES - 1)
                nominated.append(scored_by_ease[best[:CANDIDATES]])
                centre, scale = _standardizing(kept, self.trained, on_ease)
                parts.append(self._ease(rows, kept, centre, scale))
                # Items it did not nominate score 0 (no row, or nothing in common) or no more than its last nominee.
                outside = 0.0 if len(rows) <= CANDIDATES else max(0.0, float(kept[best[:CANDIDATES]].min()))
                bounds["ease"], at_zero = (outside - centre) * scale, -centre * scale
        if not parts:
            return None
        trend = self.trend

        def score(at: np.ndarray | None) -> np.ndarray:
            total = on_trend * (trend if at is None else trend[at])
            for part in parts:
                total = total + part(at)
            return total

        def widen(least: float) -> tuple[np.ndarray, float] | None:
            """Every item EASE scores, and the trending items down to where no other item can reach `least`."""
            room = least - bounds["lightfm"] - at_zero  # what the trend may give an item outside
            if not np.isfinite(room) or (not on_trend and room < 0):
                return None
            count = int(np.searchsorted(-on_trend * self.trend_descending, -room, side="left")) if on_trend else 0
            if count > WIDEST:
                return None
            rest = on_trend * float(self.trend_descending[count]) if count < self.trained else -np.inf
            return np.concatenate([scored_by_ease, self.trend_order[:count]]), bounds["lightfm"] + at_zero + rest

        together = np.unique(np.concatenate(nominated))
        return Scored(score=score, nominated=together, folded=folded, ceiling=sum(bounds.values()), widen=widen)

    def _lightfm(self, query: np.ndarray, weight: float) -> Scorer:
        """LightFM's scores standardized over the trained items: mean and spread from the items' moments, exact and
        without scoring the whole catalog."""
        mean, covariance = self.moments
        extended = np.append(query.astype(np.float64), 1.0)
        centre, spread = float(mean @ extended), float(np.sqrt(max(extended @ covariance @ extended, 0.0)))
        scale = weight / spread if spread > 0 else 0.0
        vectors, biases = self.vectors, self.biases

        def score(at: np.ndarray | None) -> np.ndarray:
            raw = vectors @ query + biases if at is None else vectors[at] @ query + biases[at]
            return (raw - centre) * scale

        return score

    def _ease(self, rows: np.ndarray, kept: np.ndarray, centre: float, scale: float) -> Scorer:
        """EASE's scores standardized over the trained items (those it does not score score 0)."""
        values = np.zeros(len(self.item_to_item.positions) + 1)  # the last: items without a row
        values[rows] = kept
        lookup = self.ease_rows

        def score(at: np.ndarray | None) -> np.ndarray:
            return (values[lookup if at is None else lookup[at]] - centre) * scale

        return score


def _standardizing(kept: np.ndarray, trained: int, weight: float) -> tuple[float, float]:
    """The centre and scale that standardize EASE's scores over the trained items, from the few it scores (the
    rest score 0), times the part's weight."""
    kept = kept.astype(np.float64)
    centre = kept.sum() / trained
    spread = float(np.sqrt(max((kept**2).sum() / trained - centre**2, 0.0)))
    return centre, (weight / spread if spread > 0 else 0.0)
