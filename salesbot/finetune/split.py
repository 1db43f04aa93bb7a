"""Which file a conversation's lines go to: by the person it was with (a visitor, or the customer they signed in
as), drawn by a hash of the seed and that person, so the same person never lands in both files and the same export
draws the same split every time."""

from __future__ import annotations

import hashlib

TRAIN, VALIDATION = "train", "validation"


def side(person: str, *, seed: int, share: float) -> str:
    """`validation` for about `share` of people, `train` for the others."""
    digest = hashlib.blake2b(f"{seed}:{person}".encode(), digest_size=8).digest()
    return VALIDATION if int.from_bytes(digest) / 2**64 < share else TRAIN
