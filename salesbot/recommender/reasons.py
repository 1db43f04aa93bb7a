"""Why an item is on a customer's list, in the shop's words: what they did that it goes with."""

from __future__ import annotations

import numpy as np

from salesbot.recommender.loaded import Loaded
from salesbot.recommender.results import History

VERBS = {"view": "viewed", "click": "looked at", "add_to_cart": "put in your cart", "purchase": "bought"}


def personal(model: Loaded, chosen: list[int], history: History, strategy: str) -> list[str]:
    if strategy == "features" or history.empty:
        return [f"picked for customers like you in {model.shelf.categories[p] or 'this shop'}" for p in chosen]
    seen, kinds = history.latest_per_item()
    positions = np.array([model.positions.get(item, -1) for item in seen], dtype=np.int64)
    known = positions >= 0
    verbs = [VERBS.get(kind, "chose") for kind, k in zip(kinds, known, strict=True) if k]
    positions = positions[known]
    if len(positions) == 0:
        return ["recommended for you"] * len(chosen)
    vectors = model.item_vectors
    closest = np.argmax(vectors[chosen] @ vectors[positions].T, axis=1)
    where = {int(position): n for n, position in enumerate(positions)}
    return [
        f"you {verbs[where[item]]} it recently"
        if item in where
        else f"goes with {model.shelf.titles[positions[best]]}, which you {verbs[best]}"
        for item, best in zip(chosen, closest, strict=True)
    ]


def closest_title(model: Loaded, item: int, positions: np.ndarray) -> str:
    vectors = model.item_vectors
    return model.shelf.titles[positions[int(np.argmax(vectors[positions] @ vectors[item]))]]


def popular(category: str | None) -> str:
    return f"popular in {category}" if category else "popular right now"
