"""Choosing a list: the best allowed items by a scorer, from exact candidates when they settle it, else from the
items the filters leave or the whole catalog; at most so many per category, leaving out what is blocked."""

from __future__ import annotations

from collections import Counter

import numpy as np

from salesbot.recommender.evaluation import top_k
from salesbot.recommender.loaded import Loaded
from salesbot.recommender.scorer import Scored, Scorer
from salesbot.recommender.shelf import Filters

SELECTIVE = 0.2  # filters that leave fewer items than this share: score only those items


def best(
    model: Loaded,
    score: Scorer | Scored,
    *,
    n: int,
    filters: Filters,
    hidden: set[str],
    shortlist: np.ndarray | None = None,
) -> tuple[list[int], np.ndarray]:
    """The best `n` allowed items (at most `filters.diversify` per category) and their scores.

    From the `shortlist` (candidates, best first) when it holds enough allowed items that score at least the
    most any other item can (so the answer is exact), widened once when they fall short; else from the items the
    filters leave when they leave few; else from the whole catalog.
    """
    scored = score if isinstance(score, Scored) else None
    score = scored.score if scored is not None else score
    allowed, blocked = model.shelf.allowed(filters), model.positions_of(hidden | filters.exclude)
    if shortlist is not None and scored is not None:
        found = _from_candidates(model, scored, shortlist, allowed, n=n, filters=filters, blocked=blocked)
        if found is not None:
            return found
    wanted = n * 5 if filters.diversify else n
    eligible = model.shelf.eligible(filters)
    if len(eligible) < SELECTIVE * len(allowed):
        scores = score(eligible)
        ranked = eligible[top_k(scores[None, :], min(len(eligible), wanted + len(blocked)))[0]]
    else:
        scores = np.where(allowed, score(None), -np.inf)
        ranked = top_k(scores[None, :], min(len(scores), wanted + len(blocked)))[0]
        ranked = ranked[np.isfinite(scores[ranked])]
    chosen = _first(model, ranked, n=n, filters=filters, blocked=blocked)
    return chosen, score(np.array(chosen, dtype=np.int64))


def _from_candidates(
model: Loaded, scored: Scored, ranked: np.ndarray, allowed: np.ndarray, *, n: int, filters: Filters,
    blocked: set[int],
) -> tuple[list[int], np.ndarray] | None:  # fmt: skip
    """The best `n` allowed candidates when no other item can beat the n-th; else, once, with the candidates
    widened to where no other item can; None when even that cannot settle it."""
    chosen = _first(model, ranked[allowed[ranked]], n=n, filters=filters, blocked=blocked)
    scores = scored.score(np.array(chosen, dtype=np.int64))
    if len(chosen) == n and scores[-1] >= scored.ceiling:
        return chosen, scores
    wider = scored.widen(float(scores[-1])) if len(chosen) == n else None
    if wider is None:
        return None
    extra, ceiling = wider
    candidates = np.unique(np.concatenate([ranked, extra]))
    ranked = candidates[np.argsort(-scored.score(candidates), kind="stable")]
    chosen = _first(model, ranked[allowed[ranked]], n=n, filters=filters, blocked=blocked)
    scores = scored.score(np.array(chosen, dtype=np.int64))
    return (chosen, scores) if len(chosen) == n and scores[-1] >= ceiling else None


def _first(model: Loaded, ranked: np.ndarray, *, n: int, filters: Filters, blocked: set[int]) -> list[int]:
    """The first `n` of `ranked` that are not blocked, at most `filters.diversify` per category."""
    chosen: list[int] = []
    per_category: Counter = Counter()
    for position in ranked.tolist():
        if len(chosen) == n:
            break
        category = model.shelf.categories[position]
        if position in blocked or (filters.diversify and per_category[category] >= filters.diversify):
            continue
        per_category[category] += 1
        chosen.append(position)
    return chosen
