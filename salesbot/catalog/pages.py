"""Keyset pagination: an opaque cursor naming the last row seen, stable while rows change."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Generic, TypeVar

from salesbot.errors import InvalidInput

Row = TypeVar("Row")


@dataclass(frozen=True)
class Page(Generic[Row]):
    rows: list[Row]
    next_cursor: str | None


def encode_cursor(last_key: str) -> str:
    return base64.urlsafe_b64encode(last_key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        return base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput.for_field("cursor", "is not a cursor this API gave out") from None


def page_of(rows: list[Row], page_size: int, key_of: callable) -> Page[Row]:  # type: ignore[valid-type]
    """Cut a page from `page_size + 1` fetched rows; the extra row only says another page exists."""
    if len(rows) <= page_size:
        return Page(rows=rows, next_cursor=None)
    kept = rows[:page_size]
    return Page(rows=kept, next_cursor=encode_cursor(key_of(kept[-1])))
