"""The active version in memory: its artifact, the items it can answer with (those it was trained on, then those
added since and placed by their features), the shelf, and the parts the blend scores with."""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from salesbot.database import UnitOfWork
from salesbot.recommender import blend, newcomers
from salesbot.recommender.artifact import Artifact
from salesbot.recommender.scorer import Parts, Scorer
from salesbot.recommender.shelf import Shelf

# Versions trained before the blend: LightFM alone, as they were evaluated.
LIGHTFM_ALONE = blend.Config(params=blend.Params(kind="lightfm"), event_weights={})


@dataclass
class Loaded:
    version_id: str
    artifact: Artifact
    item_ids: np.ndarray  # trained items, then newcomers
    item_vectors: np.ndarray
    item_biases: np.ndarray
    customers: pd.Index
    features: pd.Index
    shelf: Shelf
    parts: Parts
    shelf_read_at: float = field(default_factory=time.monotonic)

    @classmethod
    def build(cls, version_id: str, artifact: Artifact, uow: Callable[[], UnitOfWork]) -> Loaded:
        """The version ready to serve, with the catalog's items it was not trained on placed by their features."""
        known = {str(item): position for position, item in enumerate(artifact.item_ids)}
        ids, vectors, biases = newcomers.place(newcomers.read(uow(), known), artifact)
        found = artifact.embeddings
        item_ids = np.concatenate([artifact.item_ids.astype(object), ids])
        item_vectors = np.vstack([found.item_vectors, vectors]).astype(np.float32)
        item_biases = np.concatenate([found.item_biases, biases]).astype(np.float32)
        config = blend.Config.loads(artifact.blend) if artifact.blend else LIGHTFM_ALONE
        trained = len(artifact.item_ids)
        raw_trend = artifact.trend if artifact.trend is not None else np.zeros(trained, dtype=np.float32)
        return cls(
            version_id=version_id,
            artifact=artifact,
            item_ids=item_ids,
            item_vectors=item_vectors,
            item_biases=item_biases,
            customers=pd.Index(artifact.customer_ids),
            features=pd.Index(artifact.customer_feature_names),
            shelf=Shelf.read(uow(), item_ids),
            parts=Parts.of(config, artifact.item_to_item, raw_trend, item_vectors, item_biases, trained),
        )

    @functools.cached_property
    def positions(self) -> dict[str, int]:
        return {str(item): position for position, item in enumerate(self.item_ids)}

    @functools.cached_property
    def popularity(self) -> np.ndarray:
        """Interactions per item; newcomers have none yet."""
        popularity = self.artifact.popularity.astype(np.float64)
        return np.concatenate([popularity, np.zeros(len(self.item_ids) - len(popularity))])

    @functools.cached_property
    def unit_vectors(self) -> np.ndarray:
        """Item vectors scaled to length one: their dot products are cosine similarities."""
        return self.item_vectors / (np.linalg.norm(self.item_vectors, axis=1, keepdims=True) + 1e-9)

    @property
    def newcomers(self) -> int:
        return len(self.item_ids) - len(self.artifact.item_ids)

    def positions_of(self, item_ids: Iterable[str]) -> set[int]:
        return {self.positions[item] for item in item_ids if item in self.positions}

    def restocked(self, shelf: Shelf) -> Loaded:
        """The same model on a newer shelf. A new object, so that a request holding this one keeps one consistent
        shelf from picking to formatting; the cached positions and vectors are shared, not rebuilt."""
        fresh = copy.copy(self)
        fresh.shelf, fresh.shelf_read_at = shelf, time.monotonic()
        return fresh

    def scorer(self, query: np.ndarray) -> Scorer:
        """Scores by dot product with `query` plus the item bias, for the given positions or for all items."""
        vectors, biases = self.item_vectors, self.item_biases
        return lambda at: vectors @ query + biases if at is None else vectors[at] @ query + biases[at]
