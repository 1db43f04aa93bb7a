"""Items added after training: described by the features the model learned (category, brand, price band,
attributes, title words) and placed where those features put them, so they can be recommended and found similar
before the next training."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import sparse
from sqlalchemy import select

from models import Item
from salesbot.database import UnitOfWork
from salesbot.recommender.artifact import Artifact
from salesbot.recommender.dataset import item_tags, title_words

READ_AT_ONCE = 1_000  # unknown items read per statement


def read(uow: UnitOfWork, known: Mapping[str, int]) -> pd.DataFrame:
    """The catalog's items the model does not know, with what describes them."""
    with uow:
        every = uow.session.scalars(select(Item.item_id)).all()
        unknown = [item for item in every if item not in known]
        columns = (Item.item_id, Item.title, Item.category, Item.brand, Item.price, Item.attributes)
        rows = [
            row
            for start in range(0, len(unknown), READ_AT_ONCE)
            for row in uow.session.execute(
                select(*columns).where(Item.item_id.in_(unknown[start : start + READ_AT_ONCE]))
            ).all()
        ]
    return pd.DataFrame(rows, columns=["item_id", "title", "category", "brand", "price", "attributes"])


def place(items: pd.DataFrame, artifact: Artifact) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ids, vectors and biases of the items whose features the model knows (the mean of their features'
    vectors, as LightFM represents an item by its features); items with none it knows are left out."""
    found = artifact.embeddings
    names, feature_vectors = artifact.item_feature_names, found.item_feature_vectors
    if items.empty or names is None or feature_vectors is None or found.item_feature_biases is None:
        return np.array([], dtype=object), np.zeros((0, found.item_vectors.shape[1]), np.float32), np.zeros(0)
    items = items.reset_index(drop=True)
    tags = item_tags(items, artifact.price_edges) + title_words(items.title)
    rows = np.array([row for row, _tag in tags], dtype=np.int64)
    columns = pd.Index(names).get_indexer([tag for _row, tag in tags])
    rows, columns = rows[columns >= 0], columns[columns >= 0]
    matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(len(items), len(names)))
    counts = np.asarray(matrix.sum(axis=1)).ravel()
    placed = counts > 0
    matrix = sparse.diags(1.0 / np.where(placed, counts, 1.0)) @ matrix
    vectors = np.asarray(matrix @ feature_vectors, dtype=np.float32)[placed]
    biases = np.asarray(matrix @ found.item_feature_biases, dtype=np.float32)[placed]
    return items.item_id.to_numpy(dtype=object)[placed], vectors, biases
