"""EASE: the closed form against a plain inverse, the item cap, and histories folded in at request time."""

import numpy as np
import pytest
from scipy import sparse

from salesbot.errors import InvalidInput
from salesbot.recommender import ease


def closed_form(matrix: np.ndarray, l2: float) -> np.ndarray:
    """Steck's equation straight from the paper, in float64."""
    inverse = np.linalg.inv(matrix.T @ matrix + l2 * np.eye(matrix.shape[1]))
    weights = np.eye(matrix.shape[1]) - inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    return weights


def test_tiny_matrix_matches_the_hand_computation():
    # Two items bought together by one customer: X^T X + I = [[2, 1], [1, 2]], inverse [[2, -1], [-1, 2]] / 3,
    # so each item suggests the other with weight 1/2.
    model = ease.fit(sparse.csr_matrix([[1.0, 1.0]]), ease.Params(l2=1.0))
    assert model.weights == pytest.approx(np.array([[0.0, 0.5], [0.5, 0.0]]), abs=1e-6)


def test_matches_a_brute_force_inverse_across_blocks():
    matrix = sparse.random(200, 2_500, density=0.02, random_state=3, format="csr")
    model = ease.fit(matrix, ease.Params(l2=3.0))
    expected = closed_form((matrix > 0).toarray().astype(np.float64), 3.0)
    assert model.weights.dtype == np.float32
    assert np.abs(model.weights - expected).max() < 1e-5
    assert not np.diag(model.weights).any()


def test_weighted_fit_uses_the_weights_when_not_binary():
    matrix = sparse.csr_matrix(np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 0.5]]))
    model = ease.fit(matrix, ease.Params(l2=0.5, binary=False))
    assert np.abs(model.weights - closed_form(matrix.toarray(), 0.5)).max() < 1e-5


def test_the_item_cap_keeps_the_most_active_items():
    # Item 0 has 1 customer, item 1 has 4, item 2 has 2, item 3 has 3.
    matrix = sparse.csr_matrix(np.array([[0, 1, 1, 1], [0, 1, 1, 1], [0, 1, 0, 1], [1, 1, 0, 0]], dtype=float))
    model = ease.fit(matrix, ease.Params(l2=1.0, max_items=3))
    assert model.positions.tolist() == [1, 2, 3]
    assert model.weights.shape == (3, 3)
    scores = ease.score(model, matrix)
    assert scores.shape == (4, 4)
    assert not scores[:, 0].any()  # the dropped item is left to the other models


def test_folding_in_a_new_history_changes_the_scores_without_refitting():
    # Customers buy in pairs: (0, 1) and (2, 3).
    matrix = sparse.csr_matrix(np.array([[1, 1, 0, 0]] * 5 + [[0, 0, 1, 1]] * 5, dtype=float))
    model = ease.fit(matrix, ease.Params(l2=1.0))
    after_item_0 = ease.score_history(model, np.array([0]))
    after_item_2 = ease.score_history(model, np.array([2]))
    assert np.argmax(after_item_0) == 1
    assert np.argmax(after_item_2) == 3
    both = ease.score_history(model, np.array([0, 2]))
    assert both[1] > 0
    assert both[3] > 0
    assert ease.score_history(model, np.array([], dtype=np.int64)) == pytest.approx(np.zeros(4))


def test_recent_history_weighs_more_when_weighted():
    matrix = sparse.csr_matrix(np.array([[1, 1, 0, 0]] * 5 + [[0, 0, 1, 1]] * 5, dtype=float))
    model = ease.fit(matrix, ease.Params(l2=1.0))
    scores = ease.score_history(model, np.array([0, 2]), np.array([0.2, 1.0]), binary=False)
    assert scores[3] > scores[1]


def test_a_penalty_of_zero_is_refused():
    with pytest.raises(InvalidInput):
        ease.fit(sparse.csr_matrix([[1.0]]), ease.Params(l2=0.0))


@pytest.mark.parametrize("neighbours", [None, 30])
def test_scoring_the_kept_items_of_one_history_matches_the_catalog_wide_scores(neighbours):
    matrix = sparse.random(80, 400, density=0.05, random_state=5, format="csr")
    model = ease.fit(matrix, ease.Params(l2=2.0, max_items=300))
    if neighbours:
        model = ease.sparsified(model, neighbours)
        assert model.weights.nnz <= 300 * neighbours
    history, weights = np.array([3, 50, 377]), np.array([1.0, 0.5, 0.25], dtype=np.float32)
    rows, scores = ease.score_kept(model, history, weights)
    wide = ease.score_history(model, history, weights, binary=False)
    assert wide[model.positions[rows]] == pytest.approx(scores, abs=1e-5)
    others = np.setdiff1d(np.arange(400), model.positions[rows])
    assert not wide[others].any()
