"""A trained version's artifact: the arrays serving loads, packed into one compressed `.npz` and back."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from salesbot.recommender import ease
from salesbot.recommender.training import Embeddings


@dataclass(frozen=True)
class Artifact:
    """A trained model as serving needs it: embeddings keyed by the store's own ids, and (versions since the
    blend) the item-to-item model, the trend, and what places new items by their features."""

    item_ids: np.ndarray
    customer_ids: np.ndarray
    customer_feature_names: np.ndarray
    popularity: np.ndarray  # weighted interactions per item, for cold start and reasons
    embeddings: Embeddings
    shortlists: np.ndarray | None = None  # each customer's best item positions, best first (older versions: none)
    blend: str | None = None  # blend.Config as JSON (older versions: LightFM alone)
    item_to_item: ease.ItemToItem | None = None  # sparse, for folding histories in
    trend: np.ndarray | None = None  # customers per item lately, log scale
    item_feature_names: np.ndarray | None = None
    price_edges: np.ndarray | None = None

    def pack(self) -> bytes:
        buffer = io.BytesIO()
        optional = {
            "shortlists": self.shortlists,
            "blend": None if self.blend is None else np.array(self.blend),
            "trend": self.trend,
            "item_feature_names": None if self.item_feature_names is None else self.item_feature_names.astype(str),
            "price_edges": self.price_edges,
            **_item_to_item_arrays(self.item_to_item),
            **vars(self.embeddings),
        }
        np.savez_compressed(
            buffer,
            item_ids=self.item_ids.astype(str),
            customer_ids=self.customer_ids.astype(str),
            customer_feature_names=self.customer_feature_names.astype(str),
            popularity=self.popularity,
            **{name: value for name, value in optional.items() if value is not None},
        )
        return buffer.getvalue()

    @classmethod
    def unpack(cls, blob: bytes) -> Artifact:
        with np.load(io.BytesIO(blob), allow_pickle=False) as saved:
            arrays = {name: saved[name] for name in saved.files}
        named = {
            name: arrays.pop(name) for name in ("item_ids", "customer_ids", "customer_feature_names", "popularity")
        }
        for name in ("shortlists", "trend", "item_feature_names", "price_edges"):
            named[name] = arrays.pop(name, None)
        blend = arrays.pop("blend", None)
        named["blend"] = None if blend is None else str(blend)
        named["item_to_item"] = _item_to_item(arrays, len(named["item_ids"]))
        return cls(**named, embeddings=Embeddings(**arrays))


def _item_to_item_arrays(model: ease.ItemToItem | None) -> dict[str, np.ndarray]:
    if model is None:
        return {}
    weights = sparse.csr_matrix(model.weights)
    return {"ease_positions": model.positions, "ease_indptr": weights.indptr, "ease_indices": weights.indices,
            "ease_data": weights.data}  # fmt: skip


def _item_to_item(arrays: dict[str, np.ndarray], catalog_size: int) -> ease.ItemToItem | None:
    if "ease_positions" not in arrays:
        return None
    positions = arrays.pop("ease_positions")
    weights = sparse.csr_matrix(
        (arrays.pop("ease_data"), arrays.pop("ease_indices"), arrays.pop("ease_indptr")),
        shape=(len(positions), len(positions)),
    )
    return ease.ItemToItem(positions=positions, weights=weights, catalog_size=catalog_size)
