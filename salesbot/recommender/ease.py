"""EASE (Steck, "Embarrassingly Shallow Autoencoders", WWW 2019): the item-to-item model, closed form.

B = I - P / diag(P) with P = (X^T X + l2 I)^-1, so diag(B) = 0; a customer's scores are their history times B.
Only the `max_items` most active items get a row and column (float32: 1.6 GB at 20,000 while fitting), so memory
and fit time stay bounded however large the catalog; the others score 0 and are left to the other models. What is
kept for serving is sparse: each item's `neighbours` strongest weights (`sparsified`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import linalg, sparse

from salesbot.errors import InvalidInput

MAX_ITEMS = 20_000
GRAM_BLOCK = 2_048  # columns of X^T X made at a time
SYMMETRY_BLOCK = 1_024  # rows mirrored at a time, so no n x n index arrays


@dataclass(frozen=True)
class Params:
    l2: float = 250.0  # the ridge penalty lambda: larger shrinks rare item pairs harder
    max_items: int = MAX_ITEMS  # the most active items that get an item-item row
    binary: bool = True  # fit and score on "did it at all" rather than the summed event weights

    def as_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


@dataclass(frozen=True)
class ItemToItem:
    """A fitted EASE: `weights[a, b]` says how much having item `positions[a]` suggests item `positions[b]`."""

    positions: np.ndarray  # int32 catalog positions of the items kept, ascending
    weights: np.ndarray | sparse.csr_matrix  # float32 (kept x kept), zero diagonal; sparse once sparsified
    catalog_size: int


def sparsified(model: ItemToItem, neighbours: int) -> ItemToItem:
    """Each item's `neighbours` weights of largest size (either sign: a negative weight says "not with this"),
    the rest dropped: a few hundred per item keep the lists while the matrix shrinks from n^2 to n x neighbours."""
    dense = model.weights
    if sparse.issparse(dense):
        return model
    neighbours = min(neighbours, max(len(dense) - 1, 1))
    rows, columns = [], []
    for start in range(0, len(dense), SYMMETRY_BLOCK):
        block = np.abs(dense[start : start + SYMMETRY_BLOCK])
        strongest = np.argpartition(-block, neighbours - 1, axis=1)[:, :neighbours]
        rows.append(np.repeat(np.arange(start, start + len(block)), neighbours))
        columns.append(strongest.ravel())
    rows_at, columns_at = np.concatenate(rows), np.concatenate(columns)
    weights = sparse.csr_matrix((dense[rows_at, columns_at], (rows_at, columns_at)), shape=dense.shape)
    weights.eliminate_zeros()
    return ItemToItem(positions=model.positions, weights=weights.astype(np.float32), catalog_size=model.catalog_size)


def fit(
    matrix: sparse.spmatrix,
    params: Params,
    *,
    on_step: Callable[[str], None] = lambda step: None,
) -> ItemToItem:
    """Fit on a customers x catalog matrix (the product's weighted interactions)."""
    if params.l2 <= 0 or params.max_items < 1:
        raise InvalidInput.for_field("ease", "l2 must be above 0 and max_items at least 1")
    matrix = _prepared(matrix, params.binary)
    positions = most_active(matrix, params.max_items)
    kept = matrix[:, positions]
    on_step("gram")
    gram = _gram(kept)
    gram[np.diag_indices_from(gram)] += np.float32(params.l2)
    on_step("inverse")
    inverse = _symmetric_inverse(gram)  # overwrites gram
    on_step("weights")
    inverse /= -np.diag(inverse)[None, :]
    np.fill_diagonal(inverse, 0.0)
    return ItemToItem(positions=positions, weights=inverse, catalog_size=matrix.shape[1])


def most_active(matrix: sparse.csr_matrix, limit: int) -> np.ndarray:
    """The positions of the `limit` items with the most customers, ascending (ties: the earlier item)."""
    customers = np.diff(matrix.tocsc().indptr)
    if limit >= len(customers):
        return np.arange(len(customers), dtype=np.int32)
    chosen = np.argsort(-customers, kind="stable")[:limit]
    return np.sort(chosen).astype(np.int32)


def score(model: ItemToItem, histories: sparse.spmatrix, *, binary: bool = True) -> np.ndarray:
    """Scores over the whole catalog (rows: histories, columns: catalog positions) for customers' histories,
    given as a sparse rows x catalog matrix; they may be newer than the fit (folded in, no retraining)."""
    histories = _prepared(histories, binary)[:, model.positions]
    scores = np.zeros((histories.shape[0], model.catalog_size), dtype=np.float32)
    found = histories @ model.weights
    scores[:, model.positions] = found.toarray() if sparse.issparse(found) else np.asarray(found)
    return scores


def score_kept(model: ItemToItem, positions: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One history's scores over the kept items, for serving: (rows in `model.positions` order, their scores) for
    the rows that score at all; no catalog-wide array. `positions` are catalog positions; those without a row are
    ignored. On the sparse (served) weights it reads only the history's rows."""
    rows = np.searchsorted(model.positions, positions)
    known = (rows < len(model.positions)) & (model.positions[np.minimum(rows, len(model.positions) - 1)] == positions)
    rows, weights = rows[known], np.asarray(weights, dtype=np.float32)[known]
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if not sparse.issparse(model.weights):
        scores = weights @ model.weights[rows]
        found = np.flatnonzero(scores)
        return found, scores[found]
    indptr, indices, data = model.weights.indptr, model.weights.indices, model.weights.data
    spans = [slice(indptr[row], indptr[row + 1]) for row in rows]
    columns = np.concatenate([indices[span] for span in spans])
    values = np.concatenate([data[span] * weight for span, weight in zip(spans, weights, strict=True)])
    found, where = np.unique(columns, return_inverse=True)
    return found, np.bincount(where, weights=values, minlength=len(found))


def score_history(
    model: ItemToItem, positions: np.ndarray, weights: np.ndarray | None = None, *, binary: bool = True
) -> np.ndarray:
    """One customer's scores over the catalog positions from their item history (catalog positions, with
    optional weights such as recency), for serving: the sum of the history items' rows of B."""
    positions = np.asarray(positions, dtype=np.int64)
    weights = np.ones(len(positions), dtype=np.float32) if weights is None else np.asarray(weights, np.float32)
    row = sparse.csr_matrix((weights, (np.zeros_like(positions), positions)), shape=(1, model.catalog_size))
    return score(model, row, binary=binary)[0]


def _prepared(matrix: sparse.spmatrix, binary: bool) -> sparse.csr_matrix:
    matrix = sparse.csr_matrix(matrix, dtype=np.float32)
    matrix.sum_duplicates()
    if binary:
        matrix.data = (matrix.data > 0).astype(np.float32)
    return matrix


def _gram(kept: sparse.csr_matrix) -> np.ndarray:
    """X^T X as a dense float32 matrix, a block of columns at a time: a sparse product of the whole can hold
    several times the dense result's memory when popular items co-occur with most others."""
    gram = np.empty((kept.shape[1], kept.shape[1]), dtype=np.float32)
    transposed, columns = kept.T.tocsr(), kept.tocsc()
    for start in range(0, kept.shape[1], GRAM_BLOCK):
        gram[:, start : start + GRAM_BLOCK] = (transposed @ columns[:, start : start + GRAM_BLOCK]).toarray()
    return gram


def _symmetric_inverse(gram: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite matrix by Cholesky in place (no second n x n copy)."""
    # gram.T is the same matrix in Fortran order, which LAPACK overwrites in place; it fills one triangle.
    factor, info = linalg.lapack.spotrf(gram.T, lower=False, overwrite_a=True, clean=False)
    if info == 0:
        factor, info = linalg.lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise InvalidInput.for_field("ease", f"the item-item matrix could not be inverted (LAPACK info {info})")
    inverse = factor.T  # C order, the lower triangle filled
    for start in range(0, len(inverse), SYMMETRY_BLOCK):
        stop = start + SYMMETRY_BLOCK
        inverse[start:stop, stop:] = inverse[stop:, start:stop].T
        square = inverse[start:stop, start:stop]
        upper = np.triu_indices(len(square), 1)
        square[upper] = square.T[upper]
    return inverse
