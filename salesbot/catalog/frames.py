"""Cleaning rows in bulk: a table in, the good rows and a reason for each bad one out.

Files and batch requests both arrive as pandas DataFrames whose index is the row's position in the
source (row number or batch index), so every reason can point back at what the client sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from salesbot.catalog.rules import EXTERNAL_ID


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str


@dataclass
class Report:
    """What happened to a batch or a file: counts, and why each rejected row was rejected."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicate: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)

    def merge(self, other: Report) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.duplicate += other.duplicate
        self.rejected += other.rejected


class Reasons:
    """The first problem found with each row; rows with none are good."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.reasons = pd.Series(None, index=frame.index, dtype="object")

    def flag(self, bad: pd.Series, reason: str | pd.Series) -> None:
        fresh = bad.fillna(False).astype(bool) & self.reasons.isna()
        self.reasons[fresh] = reason[fresh] if isinstance(reason, pd.Series) else reason

    @property
    def good(self) -> pd.DataFrame:
        return self.frame[self.reasons.isna()]

    def rejections(self) -> list[Rejection]:
        bad = self.reasons.dropna()
        return [Rejection(int(index), str(reason)) for index, reason in bad.items()]


def with_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`frame` with exactly `columns`, missing ones empty."""
    return frame.reindex(columns=columns)


def text(series: pd.Series) -> pd.Series:
    """Strings with surrounding blanks removed; blank becomes missing. 17850.0 from a float column reads 17850."""
    given = series.dropna()
    if pd.api.types.is_float_dtype(series) and given.mod(1).eq(0).all() and given.abs().lt(2**53).all():
        series = series.astype("Int64")  # only where every float is a whole number a float holds exactly
    cleaned = series.astype("string").str.strip()
    return cleaned.mask(cleaned == "")


def bad_ids(series: pd.Series) -> pd.Series:
    """True where a present value cannot be an id."""
    return series.notna() & ~series.fillna("x").str.match(EXTERNAL_ID.pattern)


def numbers(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(the values as floats, True where a value was given but is not a finite number)."""
    parsed = pd.to_numeric(series, errors="coerce").astype("float64")
    unreadable = series.notna() & (parsed.isna() | ~np.isfinite(parsed.fillna(0)))
    return parsed.where(~unreadable), unreadable


def moments(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(UTC timestamps, True where a value was given but is not a date and time). Only text and date cells
    are read: a number is not a date (pandas would take 1700000000 for nanoseconds)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        parsed = series.dt.tz_localize("UTC") if series.dt.tz is None else series.dt.tz_convert("UTC")
        return parsed.dt.as_unit("us"), pd.Series(False, index=series.index)
    readable = pd.Series([isinstance(value, str | datetime) for value in series], index=series.index, dtype=bool)
    written = series.astype("object").where(readable)
    parsed = pd.to_datetime(written, errors="coerce", utc=True, format="ISO8601").dt.as_unit("us")
    if (retry := parsed.isna() & written.notna()).any():
        parsed[retry] = pd.to_datetime(written[retry], errors="coerce", utc=True, format="mixed").dt.as_unit("us")
    return parsed, series.notna() & parsed.isna()
