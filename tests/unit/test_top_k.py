import numpy as np
import pytest

from salesbot.recommender.evaluation import top_k


def by_full_sort(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("width", [50, 20_000, 20_001])
def test_top_k_is_the_best_k_best_first(width):
    scores = np.random.default_rng(width).standard_normal((5, width)).astype(np.float32)
    assert (top_k(scores, 10) == by_full_sort(scores, 10)).all()


def test_top_k_skips_excluded_items_and_keeps_the_best_when_one_chunk_holds_them_all():
    scores = np.random.default_rng(1).standard_normal((3, 30_000)).astype(np.float32)
    scores[0, :5000] = -np.inf  # excluded, e.g. already bought
    scores[1, 100:110] += 100  # the whole top-10 sits in one chunk
    best = top_k(scores, 10)
    assert (best == by_full_sort(scores, 10)).all()
    assert best[0].min() >= 5000
    assert sorted(best[1]) == list(range(100, 110))
