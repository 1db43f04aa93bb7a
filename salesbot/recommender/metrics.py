"""Ranking-quality metrics for recommendations: pure functions over ranked lists and scores, never a model.
Users with nothing relevant (for AUC: no positive or no negative item) are skipped, not counted as zero."""

from collections.abc import Callable, Collection, Hashable, Sequence

import numpy as np

UserScore = Callable[[list[int], int, int], float]
"""Scores one user from the 1-based ranks of hits in the top k, the size of the relevant set, and k."""


def precision_at_k(
    recommended: Sequence[Sequence[Hashable]], relevant: Sequence[Collection[Hashable]], k: int
) -> float:
    """Mean share of each user's top-k that is relevant."""
    return _mean_over_users(recommended, relevant, k, lambda hits, n_relevant, k: len(hits) / k)


def recall_at_k(recommended: Sequence[Sequence[Hashable]], relevant: Sequence[Collection[Hashable]], k: int) -> float:
    """Mean share of each user's relevant items that made the top-k."""
    return _mean_over_users(recommended, relevant, k, lambda hits, n_relevant, k: len(hits) / n_relevant)


def ndcg_at_k(recommended: Sequence[Sequence[Hashable]], relevant: Sequence[Collection[Hashable]], k: int) -> float:
    """Mean normalised discounted cumulative gain with binary relevance."""
    return _mean_over_users(recommended, relevant, k, _ndcg)


def map_at_k(recommended: Sequence[Sequence[Hashable]], relevant: Sequence[Collection[Hashable]], k: int) -> float:
    """Mean average precision: precision at each hit's rank, summed, over the best achievable hit count."""
    return _mean_over_users(recommended, relevant, k, _average_precision)


def auc(
    scores: Sequence[np.ndarray],
    positives: Sequence[Collection[int]],
    excluded: Sequence[Collection[int]] | None = None,
) -> float:
    """Mean chance that a user's positive item outscores a negative one (ties count half).

    Negatives are all item indexes that are neither positive nor excluded (e.g. items seen in training).
    """
    counted = [value for value in auc_per_user(scores, positives, excluded) if value is not None]
    return float(np.mean(counted)) if counted else 0.0


def auc_per_user(
    scores: Sequence[np.ndarray],
    positives: Sequence[Collection[int]],
    excluded: Sequence[Collection[int]] | None = None,
) -> list[float | None]:
    """Each user's AUC, None where they have no positive or no negative item."""
    _check_same_length("scores", scores, "positives", positives)
    if excluded is None:
        excluded = [()] * len(scores)
    _check_same_length("scores", scores, "excluded", excluded)
    return [_auc_one(np.asarray(s), p, e) for s, p, e in zip(scores, positives, excluded, strict=True)]


def catalog_coverage(recommended: Sequence[Sequence[Hashable]], catalog_size: int, k: int) -> float:
    """Share of the catalog that appears in at least one user's top-k."""
    _check_k(k)
    if catalog_size < 1:
        raise ValueError(f"catalog_size must be at least 1, got {catalog_size}")
    distinct = {item for ranking in recommended for item in ranking[:k]}
    return len(distinct) / catalog_size


def evaluate(
    recommended: Sequence[Sequence[Hashable]],
    relevant: Sequence[Collection[Hashable]],
    *,
    k: int,
    catalog_size: int,
) -> dict[str, float]:
    """All ranked-list metrics at one k, keyed like "ndcg@10", plus catalog coverage."""
    return {
        f"precision@{k}": precision_at_k(recommended, relevant, k),
        f"recall@{k}": recall_at_k(recommended, relevant, k),
        f"ndcg@{k}": ndcg_at_k(recommended, relevant, k),
        f"map@{k}": map_at_k(recommended, relevant, k),
        "coverage": catalog_coverage(recommended, catalog_size, k),
    }


def _mean_over_users(
    recommended: Sequence[Sequence[Hashable]],
    relevant: Sequence[Collection[Hashable]],
    k: int,
    score: UserScore,
) -> float:
    _check_k(k)
    _check_same_length("recommended", recommended, "relevant", relevant)
    per_user: list[float] = []
    for ranking, user_relevant in zip(recommended, relevant, strict=True):
        wanted = set(user_relevant)
        if wanted:
            hits = [rank for rank, item in enumerate(ranking[:k], start=1) if item in wanted]
            per_user.append(score(hits, len(wanted), k))
    return float(np.mean(per_user)) if per_user else 0.0


def _ndcg(hits: list[int], n_relevant: int, k: int) -> float:
    dcg = sum(1 / np.log2(rank + 1) for rank in hits)
    idcg = sum(1 / np.log2(rank + 1) for rank in range(1, min(k, n_relevant) + 1))
    return float(dcg / idcg)


def _average_precision(hits: list[int], n_relevant: int, k: int) -> float:
    # The i-th hit (1-based) at rank r means precision@r = i / r.
    return sum(i / rank for i, rank in enumerate(hits, start=1)) / min(k, n_relevant)


def _auc_one(scores: np.ndarray, positives: Collection[int], excluded: Collection[int]) -> float | None:
    negative = np.ones(len(scores), dtype=bool)
    negative[list(excluded)] = False
    positive = np.array(sorted(set(positives)), dtype=np.int64)
    negative[positive] = False
    if not len(positive) or not negative.any():
        return None
    # Mann-Whitney U: for each positive, the negatives below it, plus half of those tied with it.
    below = np.sort(scores[negative])
    wins = np.searchsorted(below, scores[positive], side="left")
    ties = np.searchsorted(below, scores[positive], side="right") - wins
    return float((wins + ties / 2).sum() / (len(positive) * len(below)))


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def _check_same_length(name: str, values: Sequence, other_name: str, other: Sequence) -> None:
    if len(values) != len(other):
        raise ValueError(f"{name} and {other_name} must have one entry per user, got {len(values)} and {len(other)}")
