"""How one KPI's figure is made from rows: a sum over a sum (counts, rates, averages) or a percentile, for the whole
window, per period and per slice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from salesbot.analytics.window import Window


@dataclass(frozen=True)
class Kpi:
    """What a figure means: its numerator and denominator in words, and which conversations are behind it."""

    name: str
    group: str
    title: str
    unit: str  # count, rate, seconds, milliseconds, score, money, tokens
    definition: str
    numerator: str
    denominator: str | None = None
    drill: str | None = None  # the outcome column whose true rows are the numerator's conversations

    def described(self) -> dict[str, Any]:
        return {
            "name": self.name, "group": self.group, "title": self.title, "unit": self.unit,
            "definition": self.definition, "numerator": self.numerator, "denominator": self.denominator,
        }  # fmt: skip


def ratio(
    kpi: Kpi, rows: pd.DataFrame, top: pd.Series, bottom: pd.Series | None, window: Window, by: str | None
) -> dict[str, Any]:
    """sum(top) / sum(bottom), or sum(top) alone without a bottom: overall, per period and per slice."""
    frame = pd.DataFrame({"top": top.astype(float), "bottom": 1.0 if bottom is None else bottom.astype(float)})
    frame["period"], frame["slice"] = rows["period"].values, (rows[by].values if by in rows else None)
    overall = _settled(frame.top.sum(), frame.bottom.sum(), bottom is not None)
    periods = frame.groupby("period")[["top", "bottom"]].sum()
    series = [
        {"period": period} | _settled(*(periods.loc[period] if period in periods.index else (0.0, 0.0)),
                                       bottom is not None)
        for period in window.all_periods
    ]  # fmt: skip
    figure = kpi.described() | overall | {"series": series, "slices": None}
    if by in rows:
        grouped = frame.groupby(frame["slice"].fillna("(none)"))[["top", "bottom"]].sum()
        figure["slices"] = [{"slice": str(name)} | _settled(t, b, bottom is not None) for name, (t, b) in
                            grouped.iterrows()]  # fmt: skip
    return figure


def _settled(top: float, bottom: float, divided: bool) -> dict[str, Any]:
    if not divided:
        return {"value": _number(top), "numerator_value": _number(top), "denominator_value": None}
    value = top / bottom if bottom else None
    return {"value": _number(value), "numerator_value": _number(top), "denominator_value": _number(bottom)}


def percentile(
    kpi: Kpi, rows: pd.DataFrame, values: pd.Series, q: float, window: Window, by: str | None
) -> dict[str, Any]:
    """The q-quantile of the values present, overall, per period and per slice (None where there are none)."""
    frame = pd.DataFrame({"value": values.astype(float), "period": rows["period"].values})
    frame["slice"] = rows[by].values if by in rows else None
    frame = frame.dropna(subset=["value"])
    periods = frame.groupby("period").value.quantile(q)
    series = [
        {"period": p, "value": _number(periods.get(p)), "numerator_value": int((frame.period == p).sum()),
         "denominator_value": None}
        for p in window.all_periods
    ]  # fmt: skip
    overall = frame.value.quantile(q) if len(frame) else None
    figure = kpi.described() | {
        "value": _number(overall), "numerator_value": len(frame), "denominator_value": None, "series": series,
        "slices": None,
    }  # fmt: skip
    if by in rows:
        grouped = frame.groupby(frame["slice"].fillna("(none)")).value
        figure["slices"] = [
            {"slice": str(name), "value": _number(part.quantile(q)), "numerator_value": len(part),
             "denominator_value": None}
            for name, part in grouped
        ]  # fmt: skip
    return figure


UNITS = {"rate": "{:.1%}", "milliseconds": "{:,.0f} ms", "seconds": "{:,.0f} s", "score": "{:.2f}",
         "money": "{:,.2f}", "tokens": "{:,.0f}", "count": "{:,.0f}"}  # fmt: skip


def shown(value: float | None, unit: str) -> str:
    """A figure as people read it: 12.5%, 840 ms, 4.20; a dash when there is nothing to count."""
    return "-" if value is None else UNITS.get(unit, "{}").format(value)


def _number(value: Any) -> float | int | None:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value
