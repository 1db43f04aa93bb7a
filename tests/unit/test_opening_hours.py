"""Opening hours are read from one line an operator writes, and follow the shop's wall clock through DST."""

from datetime import UTC, datetime, timedelta

import pytest

from salesbot.errors import InvalidInput
from salesbot.inbox import hours

SECOND = timedelta(seconds=1)


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize("text", [None, "", "   "])
def test_unset_hours_mean_no_hours(text):
    assert hours.parse(text) is None


@pytest.mark.parametrize(
    ("text", "open_at", "closed_at"),
    [
        ("Mon-Fri 09:00-18:00 Europe/Berlin", utc(2025, 6, 6, 7, 0), utc(2025, 6, 7, 10, 0)),
        ("Mon-Sat 08:30-20:00 UTC", utc(2025, 6, 7, 8, 30), utc(2025, 6, 7, 8, 29)),
        ("Mon,Wed,Fri 10:00-16:00 America/New_York", utc(2025, 6, 4, 14, 0), utc(2025, 6, 3, 14, 0)),
        ("Mon-Fri 09:00-18:00; Sat 10:00-14:00 Europe/Berlin", utc(2025, 6, 7, 8, 0), utc(2025, 6, 7, 12, 0)),
        ("mon - fri 09:00 - 12:00, 13:00-18:00 UTC", utc(2025, 6, 6, 13, 0), utc(2025, 6, 6, 12, 30)),
        ("Fri-Mon 10:00-24:00 UTC", utc(2025, 6, 8, 23, 59, 59), utc(2025, 6, 10, 12, 0)),
        ("Saturday 10:00-14:00 UTC", utc(2025, 6, 7, 13, 59), utc(2025, 6, 7, 14, 0)),
    ],
)
def test_the_forms_an_operator_writes(text, open_at, closed_at):
    opening = hours.parse(text)
    assert opening.is_open(open_at)
    assert not opening.is_open(closed_at)


def test_weekday_hours_move_with_berlin_summer_time():
    opening = hours.parse("Mon-Fri 09:00-18:00 Europe/Berlin")
    friday_before = utc(2025, 3, 28, 8, 0)  # 09:00 CET (UTC+1)
    monday_after = utc(2025, 3, 31, 7, 0)  # 09:00 CEST (UTC+2), the clocks went forward on Sunday
    for opens in (friday_before, monday_after):
        closes = opens + timedelta(hours=9)
        assert not opening.is_open(opens - SECOND)
        assert opening.is_open(opens)
        assert opening.is_open(closes - SECOND)
        assert not opening.is_open(closes)
    assert not opening.is_open(utc(2025, 3, 29, 10, 0))  # Saturday


def test_new_york_opens_an_hour_earlier_in_utc_after_the_clocks_go_forward():
    opening = hours.parse("Mon,Wed,Fri 10:00-16:00 America/New_York")
    for opens in (utc(2025, 3, 7, 15, 0), utc(2025, 3, 10, 14, 0)):  # 10:00 EST, then 10:00 EDT (UTC-4)
        assert opening.is_open(opens)
        assert not opening.is_open(opens - SECOND)


def test_hours_across_the_night_the_clocks_change_are_wall_clock_hours():
    opening = hours.parse("Sun 01:00-03:00 Europe/Berlin")
    # Spring: 02:00 never happens, so the two wall-clock hours last one real hour.
    assert opening.is_open(utc(2025, 3, 30, 0, 0))
    assert opening.is_open(utc(2025, 3, 30, 1, 0) - SECOND)
    assert not opening.is_open(utc(2025, 3, 30, 1, 0))  # 03:00 CEST
    # Autumn: 02:00 to 03:00 happens twice, so they last three real hours.
    assert not opening.is_open(utc(2025, 10, 25, 23, 0) - SECOND)
    assert opening.is_open(utc(2025, 10, 25, 23, 0))  # 01:00 CEST
    assert opening.is_open(utc(2025, 10, 26, 0, 30))  # 02:30 CEST
    assert opening.is_open(utc(2025, 10, 26, 1, 30))  # 02:30 CET
    assert not opening.is_open(utc(2025, 10, 26, 2, 0))  # 03:00 CET


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Mon-Fri 09:00-18:00", "must end with a time zone such as Europe/Berlin"),
        ("Mon-Fri 09:00-18:00 Mars/Olympus", "not 'Mars/Olympus'"),
        ("Mon-Fri 09:00-18:00 Europe", "not 'Europe'"),
        ("UTC", "needs days and hours before the time zone"),
        ("09:00-18:00 UTC", "needs days and hours, like `Mon-Fri 09:00-18:00`"),
        ("Mox-Fri 09:00-18:00 UTC", "'Mox' is not a day"),
        ("Mon-Fri 9-18 UTC", "'9-18' is not opening hours; write them like 09:00-18:00"),
        ("Mon-Fri 09:00-24:30 UTC", "24:30 is not a time of day"),
        ("Mon-Fri 09:61-18:00 UTC", "09:61 is not a time of day"),
        ("Fri 22:00-02:00 UTC", "closes before it opens; hours past midnight go on the next day"),
    ],
)
def test_mistakes_are_named(text, problem):
    with pytest.raises(InvalidInput) as refused:
        hours.parse(text)
    assert refused.value.detail.startswith("SALESBOT_OPENING_HOURS: ")
    assert problem in refused.value.detail
    assert list(refused.value.errors) == ["SALESBOT_OPENING_HOURS"]


def test_a_moment_without_a_zone_is_refused():
    with pytest.raises(ValueError, match="aware"):
        hours.parse("Mon-Fri 09:00-18:00 UTC").is_open(datetime(2025, 6, 6, 12, 0))
