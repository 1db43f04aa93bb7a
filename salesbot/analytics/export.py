"""Conversations' outcomes as people read them: the conversations behind one KPI's figure, and every conversation
of a window as CSV rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pandas as pd

from salesbot.analytics.kpis import BY_NAME
from salesbot.analytics.outcomes import COLUMNS, outcomes
from salesbot.analytics.window import Window
from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput

CSV_COLUMNS = [name for name in COLUMNS if name != "period"]


def behind(
    *, uow: UnitOfWork, window: Window, kpi: str, purchase_days: int, period: str | None = None,
    slice_: str | None = None, limit: int = 100, offset: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """The conversations counted in the KPI's numerator (in one period or slice when asked), newest first."""
    found = BY_NAME.get(kpi)
    if found is None or found.drill is None:
        drillable = ", ".join(name for name, k in BY_NAME.items() if k.drill)
        raise InvalidInput.for_field("kpi", f"choose a KPI counted in conversations: {drillable}")
    rows = outcomes(uow=uow, window=window, purchase_days=purchase_days)
    chosen = rows[rows[found.drill].fillna(False).astype(bool)]
    if period is not None:
        chosen = chosen[chosen.period == period]
    if slice_ is not None:
        if window.by is None:
            raise InvalidInput.for_field("slice", "say which slice with `by` too")
        if window.by not in rows:
            raise InvalidInput.for_field("by", "conversations are cut by channel, brain or arm")
        chosen = chosen[chosen[window.by].fillna("(none)").astype(str) == slice_]
    chosen = chosen.sort_values("started_at", ascending=False)
    page = chosen.iloc[offset : offset + limit]
    return {"kpi": kpi, "total": len(chosen), "conversations": [_plain(row) for row in page.to_dict("records")]}


def csv_lines(*, uow: UnitOfWork, window: Window, purchase_days: int) -> Iterator[str]:
    """A header and one line per conversation started in the window, oldest first."""
    rows = outcomes(uow=uow, window=window, purchase_days=purchase_days)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    yield "\ufeff" + out.getvalue()  # the byte-order mark tells spreadsheets the file is UTF-8
    for row in rows.to_dict("records"):
        out.seek(0)
        out.truncate()
        writer.writerow({name: _cell(value) for name, value in _plain(row).items()})
        yield out.getvalue()


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row with Python values: times as ISO 8601, missing values as None."""
    plain = {}
    for name, value in row.items():
        if name not in COLUMNS:
            continue
        if isinstance(value, pd.Timestamp):
            value = value.isoformat()
        elif value is pd.NaT or (isinstance(value, float) and pd.isna(value)) or value is None:
            value = None
        elif hasattr(value, "item"):
            value = value.item()  # numpy scalars
        plain[name] = value
    return plain


def _cell(value: Any) -> Any:
    """A CSV cell; text that a spreadsheet would run as a formula is kept as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
