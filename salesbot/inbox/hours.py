"""Opening hours: when reps answer, read from one line like `Mon-Fri 09:00-18:00; Sat 10:00-14:00 Europe/Berlin`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from salesbot.errors import InvalidInput

FIELD = "SALESBOT_OPENING_HOURS"
EXAMPLE = "e.g. `Mon-Fri 09:00-18:00; Sat 10:00-14:00 Europe/Berlin`"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TIMES = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
SEPARATOR = re.compile(r"\s*([-,;])\s*")


@dataclass(frozen=True)
class Span:
    """Open on these weekdays (0 is Monday) from `opens` to `closes`, in seconds after local midnight."""

    weekdays: frozenset[int]
    opens: int
    closes: int


@dataclass(frozen=True)
class OpeningHours:
    spans: tuple[Span, ...]
    zone: ZoneInfo

    def is_open(self, moment: datetime) -> bool:
        """Whether reps answer at `moment` (aware); read on the shop's wall clock, so DST moves it with the zone."""
        if moment.tzinfo is None:
            raise ValueError("naive datetime; pass an aware one")
        local = moment.astimezone(self.zone)
        second = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1_000_000
        return any(local.weekday() in span.weekdays and span.opens <= second < span.closes for span in self.spans)


def parse(text: str | None) -> OpeningHours | None:
    """The hours `text` describes; None when it is unset or blank (then reps answer whenever one is online)."""
    if text is None or not text.strip():
        return None
    rest, _, zone_name = " ".join(text.split()).rpartition(" ")
    zone = _zone(zone_name)
    ranges = [part for part in SEPARATOR.sub(r"\1", rest).split(";") if part]
    if not ranges:
        _refuse(f"needs days and hours before the time zone, {EXAMPLE}")
    return OpeningHours(spans=tuple(span for part in ranges for span in _spans(part)), zone=zone)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones, like `Europe`
        _refuse(f"must end with a time zone such as Europe/Berlin or UTC, not {name!r}; {EXAMPLE}")


def _spans(part: str) -> list[Span]:
    """`Mon-Fri 09:00-12:00,13:00-18:00`: one span per stretch of hours on those days."""
    days, _, times = part.rpartition(" ")
    if not days:
        _refuse(f"{part!r} needs days and hours, like `Mon-Fri 09:00-18:00`")
    weekdays = frozenset(day for item in days.replace(" ", ",").split(",") if item for day in _days(item))
    return [Span(weekdays, *_times(stretch)) for stretch in times.split(",")]


def _days(item: str) -> list[int]:
    first, dash, last = item.partition("-")
    start = _day(first)
    if not dash:
        return [start]
    end = _day(last)
    return [(start + step) % 7 for step in range((end - start) % 7 + 1)]  # Fri-Mon wraps over the weekend


def _day(name: str) -> int:
    lowered = name.lower()
    if lowered in DAYS:
        return DAYS.index(lowered)
    if lowered in FULL_DAYS:
        return FULL_DAYS.index(lowered)
    _refuse(f"{name!r} is not a day; use Mon, Tue, Wed, Thu, Fri, Sat, Sun")


def _times(text: str) -> tuple[int, int]:
    match = TIMES.match(text)
    if not match:
        _refuse(f"{text!r} is not opening hours; write them like 09:00-18:00")
    opens_h, opens_m, closes_h, closes_m = map(int, match.groups())
    opens, closes = _seconds(opens_h, opens_m), _seconds(closes_h, closes_m)
    if opens >= closes:
        _refuse(f"{text!r} closes before it opens; hours past midnight go on the next day (`Sat 00:00-02:00`)")
    return opens, closes


def _seconds(hour: int, minute: int) -> int:
    if minute > 59 or hour > 24 or (hour == 24 and minute):
        _refuse(f"{hour:02}:{minute:02} is not a time of day (00:00 to 24:00)")
    return hour * 3600 + minute * 60


def _refuse(message: str) -> NoReturn:
    raise InvalidInput.for_field(FIELD, message)
