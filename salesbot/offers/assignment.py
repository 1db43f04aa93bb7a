"""Sticky experiment assignment: a unit's arm is a pure function of the experiment's seed and the unit's id,
the same in every process and on every call, so nothing needs storing to keep a visitor in their arm.

Every number comes from SHA-256 (never Python's `hash()`, which is salted per process). The arm split, the
traffic gate and the layer slot each hash under their own prefix, so they are independent of one another even
when an experiment and a layer share a name: changing traffic never reshuffles arms, and a layer's slot ranges
do not line up with any experiment's arms.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from salesbot.errors import InvalidInput

_TRAFFIC = "traffic\x00"
_LAYER = "layer\x00"


@dataclass(frozen=True)
class Arm:
    """One variant of an experiment; `weight` is its share of admitted units relative to the other arms."""

    name: str
    weight: float


def bucket(seed: str, unit_id: str) -> float:
    """A number in [0, 1), uniform over units, from SHA-256 of f"{seed}:{unit_id}"."""
    return _uniform(f"{seed}:{unit_id}")


def assign(*, seed: str, unit_id: str, arms: Sequence[Arm], traffic: float = 1.0) -> str | None:
    """The arm's name, or None when the unit is outside the experiment's traffic share.

    Weights need not sum to 1 (they are normalised); an arm of weight 0 gets nobody. Traffic uses an
    independent hash (a different salt) from the arm split, so changing traffic does not reshuffle arms:
    raising it only admits new units, lowering it only drops some.
    """
    total = _check(arms, traffic)
    if _uniform(f"{_TRAFFIC}{seed}:{unit_id}") >= traffic:
        return None
    point = bucket(seed, unit_id) * total
    upper = 0.0
    for arm in arms:
        upper += arm.weight
        if point < upper:
            return arm.name
    # Rounding in the running sum can leave `point` a hair above the last bound: it belongs to the last real arm.
    return next(arm.name for arm in reversed(arms) if arm.weight > 0)


def layer_slot(*, layer: str, unit_id: str) -> float:
    """A number in [0, 1) for mutually exclusive experiments in one layer: each experiment owns a range
    [start, end) of it, and a unit takes part only in the experiment whose range holds its slot."""
    return _uniform(f"{_LAYER}{layer}:{unit_id}")


def _uniform(text: str) -> float:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    # The top 53 bits fill a double's mantissa exactly, so the result is never rounded up to 1.0.
    return (int.from_bytes(digest[:8], "big") >> 11) / (1 << 53)


def _check(arms: Sequence[Arm], traffic: float) -> float:
    if not 0.0 <= traffic <= 1.0:
        raise InvalidInput.for_field("traffic", f"must be a share between 0 and 1, not {traffic}")
    if any(not arm.weight >= 0.0 for arm in arms):  # `not >=` also catches NaN
        raise InvalidInput.for_field("arms", "every arm's weight must be 0 or more")
    total = sum(arm.weight for arm in arms)
    if not 0.0 < total < float("inf"):
        raise InvalidInput.for_field("arms", "at least one arm needs a positive, finite weight")
    return total
