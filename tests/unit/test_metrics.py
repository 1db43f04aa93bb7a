from math import log2

import numpy as np
import pytest

from salesbot.recommender import metrics

# User A: top-3 of [1, 2, 3, 4] is [1, 2, 3]; relevant {1, 3, 5}; hits at ranks 1 and 3.
# User B: top-3 of [7, 8, 9] is [7, 8, 9]; relevant {9}; hit at rank 3.
RECOMMENDED = [[1, 2, 3, 4], [7, 8, 9]]
RELEVANT = [{1, 3, 5}, {9}]


def test_precision_at_3_by_hand():
    # A: 2/3, B: 1/3 -> (2/3 + 1/3) / 2 = 0.5
    assert metrics.precision_at_k(RECOMMENDED, RELEVANT, k=3) == pytest.approx(0.5)


def test_recall_at_3_by_hand():
    # A: 2 of 3 relevant = 2/3, B: 1 of 1 = 1 -> (2/3 + 1) / 2 = 5/6
    assert metrics.recall_at_k(RECOMMENDED, RELEVANT, k=3) == pytest.approx(5 / 6)


def test_ndcg_at_3_by_hand():
    # A: DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG (3 hits) = 1 + 1/log2(3) + 0.5
    # B: DCG = 1/log2(4) = 0.5; IDCG (1 hit) = 1
    user_a = 1.5 / (1.5 + 1 / log2(3))
    assert metrics.ndcg_at_k(RECOMMENDED, RELEVANT, k=3) == pytest.approx((user_a + 0.5) / 2)
    assert user_a == pytest.approx(0.7039, abs=1e-4)


def test_map_at_3_by_hand():
    # A: (precision@1 + precision@3) / min(3, 3) = (1 + 2/3) / 3 = 5/9
    # B: precision@3 / min(3, 1) = 1/3
    # mean = (5/9 + 3/9) / 2 = 4/9
    assert metrics.map_at_k(RECOMMENDED, RELEVANT, k=3) == pytest.approx(4 / 9)


def test_evaluate_names_every_metric_with_its_k():
    result = metrics.evaluate(RECOMMENDED, RELEVANT, k=3, catalog_size=12)

    # Coverage: the top-3s hold {1, 2, 3, 7, 8, 9} -> 6 / 12
    assert result == pytest.approx(
        {
            "precision@3": 0.5,
            "recall@3": 5 / 6,
            "ndcg@3": metrics.ndcg_at_k(RECOMMENDED, RELEVANT, k=3),
            "map@3": 4 / 9,
            "coverage": 0.5,
        }
    )
    assert set(metrics.evaluate(RECOMMENDED, RELEVANT, k=10, catalog_size=12)) == {
        "precision@10",
        "recall@10",
        "ndcg@10",
        "map@10",
        "coverage",
    }


@pytest.mark.parametrize(
    ("recommended", "relevant", "k"),
    [
        ([[1, 2, 3]], [{1, 2, 3}], 3),
        ([[3, 1, 2, 9]], [{1, 2, 3}], 3),
        # More relevant items than k: the ideal is k hits, not |relevant|.
        ([[1, 2]], [{1, 2, 3, 4}], 2),
    ],
)
def test_perfect_ranking_scores_one(recommended, relevant, k):
    assert metrics.ndcg_at_k(recommended, relevant, k=k) == pytest.approx(1.0)
    assert metrics.map_at_k(recommended, relevant, k=k) == pytest.approx(1.0)


def test_users_without_relevant_items_are_skipped_not_zeroed():
    with_idle_user = [*RECOMMENDED, [4, 5, 6]]
    relevant = [*RELEVANT, set()]

    assert metrics.evaluate(with_idle_user, relevant, k=3, catalog_size=12) == pytest.approx(
        metrics.evaluate(RECOMMENDED, RELEVANT, k=3, catalog_size=12) | {"coverage": 9 / 12}
    )


def test_no_user_with_relevant_items_gives_zero():
    assert metrics.precision_at_k([[1, 2]], [set()], k=2) == 0.0
    assert metrics.ndcg_at_k([], [], k=5) == 0.0


def test_short_recommendation_lists_count_against_precision_only():
    # One hit in a list of one, k = 3: precision 1/3, recall 1/1
    assert metrics.precision_at_k([[5]], [{5}], k=3) == pytest.approx(1 / 3)
    assert metrics.recall_at_k([[5]], [{5}], k=3) == pytest.approx(1.0)
    assert metrics.ndcg_at_k([[5]], [{5}], k=3) == pytest.approx(1.0)


SCORES = np.array([0.9, 0.8, 0.1, 0.2])


@pytest.mark.parametrize(
    ("positives", "expected"),
    [
        ({0, 1}, 1.0),  # both positives outscore both negatives
        ({2, 3}, 0.0),  # both negatives outscore both positives
    ],
)
def test_auc_of_perfect_and_reversed_scorers(positives, expected):
    assert metrics.auc([SCORES], [positives]) == pytest.approx(expected)


def test_auc_with_all_scores_tied_is_a_coin_flip():
    assert metrics.auc([np.zeros(5)], [{1, 3}]) == pytest.approx(0.5)


def test_auc_counts_ties_as_half_by_hand():
    # positives 0 (0.3) and 4 (0.5); negatives 1 (0.9), 2 (0.1), 3 (0.3)
    # item 0: loses to 0.9, beats 0.1, ties 0.3 -> 0 + 1 + 0.5 = 1.5
    # item 4: loses to 0.9, beats 0.1, beats 0.3 -> 0 + 1 + 1 = 2
    # (1.5 + 2) / (2 positives * 3 negatives) = 7/12
    scores = np.array([0.3, 0.9, 0.1, 0.3, 0.5])
    assert metrics.auc([scores], [{0, 4}]) == pytest.approx(7 / 12)


def test_auc_ignores_excluded_items():
    # Item 1 outscores the positive; excluding it (say, bought in training) leaves a perfect ranking.
    scores = np.array([0.9, 0.95, 0.1, 0.2])
    assert metrics.auc([scores], [{0}]) == pytest.approx(2 / 3)
    assert metrics.auc([scores], [{0}], excluded=[{1}]) == pytest.approx(1.0)


def test_auc_skips_users_without_a_positive_or_a_negative():
    scores = [SCORES, SCORES, SCORES, SCORES]
    positives = [{0, 1}, set(), {0, 1, 2, 3}, {0, 1, 2}]
    excluded = [set(), set(), set(), {3}]
    # Only user 0 has both a positive and a negative (user 3's only negative is excluded).
    assert metrics.auc(scores, positives, excluded=excluded) == pytest.approx(1.0)
    assert metrics.auc([SCORES], [set()]) == 0.0


def test_catalog_coverage_counts_distinct_items_in_top_k():
    # top-2s: [1, 2] and [2, 4] -> {1, 2, 4}; item 3 is below the cut -> 3 / 10
    assert metrics.catalog_coverage([[1, 2, 3], [2, 4]], catalog_size=10, k=2) == pytest.approx(0.3)


@pytest.mark.parametrize("k", [0, -1])
def test_k_below_one_is_refused(k):
    with pytest.raises(ValueError, match="k must be at least 1"):
        metrics.precision_at_k(RECOMMENDED, RELEVANT, k=k)
    with pytest.raises(ValueError, match="k must be at least 1"):
        metrics.catalog_coverage(RECOMMENDED, catalog_size=10, k=k)


def test_mismatched_user_counts_are_refused():
    with pytest.raises(ValueError, match="recommended and relevant must have one entry per user, got 2 and 1"):
        metrics.map_at_k(RECOMMENDED, RELEVANT[:1], k=3)
    with pytest.raises(ValueError, match="scores and positives"):
        metrics.auc([SCORES, SCORES], [{0}])
    with pytest.raises(ValueError, match="scores and excluded"):
        metrics.auc([SCORES], [{0}], excluded=[set(), set()])


def test_empty_catalog_is_refused():
    with pytest.raises(ValueError, match="catalog_size must be at least 1"):
        metrics.catalog_coverage(RECOMMENDED, catalog_size=0, k=3)
