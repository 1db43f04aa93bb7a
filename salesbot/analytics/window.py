"""The stretch of time KPIs are read over, how it is cut into periods, and the slice asked for."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from salesbot.errors import InvalidInput

GRANULARITIES = ("day", "week")
SLICES = ("channel", "brain", "model_version", "arm")
LONGEST = timedelta(days=366)
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """Conversations started (and events that happened) in [start, end), cut into days or weeks (Mondays)."""

    start: datetime
    end: datetime
    granularity: str = "day"
    by: str | None = None

    @classmethod
    def of(
        cls, *, start: datetime | None, end: datetime | None, granularity: str = "day", by: str | None = None
    ) -> Window:
        """The last 30 days up to now by default; `end` alone means the 30 days before it."""
        end = _aware(end, "to") if end is not None else datetime.now(UTC)
        start = _aware(start, "from") if start is not None else end - timedelta(days=30)
        if start >= end:
            raise InvalidInput.for_field("from", "must be before `to`")
        if end - start > LONGEST:
            raise InvalidInput.for_field("from", "a window is at most 366 days; ask for a shorter one")
        if granularity not in GRANULARITIES:
            raise InvalidInput.for_field("granularity", f"choose one of {', '.join(GRANULARITIES)}")
        if by is not None and by not in SLICES:
            raise InvalidInput.for_field("by", f"choose one of {', '.join(SLICES)}")
        return cls(start=start, end=end, granularity=granularity, by=by)

    @staticmethod
    def moments(values: pd.Series) -> pd.Series:
        """Aware UTC times at one resolution, from SQLite's text and PostgreSQL's datetimes alike."""
        return pd.to_datetime(values, utc=True, format="ISO8601").astype("datetime64[us, UTC]")

    def periods(self, moments: pd.Series) -> pd.Series:
        """The period each moment falls in, as its first day (`2026-11-23`)."""
        days = self.moments(moments).dt.floor("D")
        if self.granularity == "week":
            days = days - pd.to_timedelta(days.dt.day_of_week, unit="D")
        return days.dt.strftime("%Y-%m-%d")

    @property
    def last_day(self) -> date:
        """The window's last day: the day before `end` when it ends at midnight."""
        return (self.end - timedelta(microseconds=1)).date()

    @functools.cached_property
    def all_periods(self) -> list[str]:
        """Every period of the window, the empty ones too, so that a chart's axis has no gaps."""
        day, last, found = self.start.date(), (self.end - timedelta(microseconds=1)).date(), []
        while day <= last:
            first = day - timedelta(days=day.weekday()) if self.granularity == "week" else day
            if not found or found[-1] != first.isoformat():
                found.append(first.isoformat())
            day += timedelta(days=1)
        return found


def _aware(moment: datetime, name: str) -> datetime:
    """A moment without a time zone is read as UTC; one outside 1970-2200 is refused by name."""
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput.for_field(name, "must be a moment between 1970 and 2200") from None
    if not EARLIEST <= moment <= LATEST:
        raise InvalidInput.for_field(name, "must be a moment between 1970 and 2200")
    return moment
