"""Quiet hours in the recipient's zone and recurring occurrences across DST."""

import datetime as dt

import pytest

from messaging.schedule import allowed_at, next_occurrence

UTC = dt.UTC
WINDOW = {"start": "08:00", "end": "20:00"}


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# 2026-07-15 13:00 UTC: 09:00 New York (EDT), 06:00 Phoenix (MST), 03:00 Honolulu.
@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("America/New_York", at(2026, 7, 15, 13, 0)),  # inside: now
        ("America/Phoenix", at(2026, 7, 15, 15, 0)),  # 08:00 MST, no DST
        ("Pacific/Honolulu", at(2026, 7, 15, 18, 0)),  # 08:00 HST
    ],
)
def test_quiet_hours_defer_to_the_local_opening(zone, expected):
    assert allowed_at(at(2026, 7, 15, 13, 0), zone, WINDOW) == expected


# 2026-01-15 02:30 UTC: 21:30 New York (EST) the day before, 19:30 Phoenix,
# 16:30 Honolulu.
@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("America/New_York", at(2026, 1, 15, 13, 0)),  # next morning 08:00 EST
        ("America/Phoenix", at(2026, 1, 15, 2, 30)),  # 19:30: still inside
        ("Pacific/Honolulu", at(2026, 1, 15, 2, 30)),
    ],
)
def test_the_evening_edge(zone, expected):
    assert allowed_at(at(2026, 1, 15, 2, 30), zone, WINDOW) == expected


def test_the_window_is_closed_at_its_end_and_open_at_its_start():
    ny = "America/New_York"
    assert allowed_at(at(2026, 7, 16, 0, 0), ny, WINDOW) == at(2026, 7, 16, 12, 0)
    assert allowed_at(at(2026, 7, 15, 12, 0), ny, WINDOW) == at(2026, 7, 15, 12, 0)


def test_no_quiet_hours_means_now_and_windows_may_cross_midnight():
    now = at(2026, 7, 15, 7, 0)  # 03:00 New York
    assert allowed_at(now, "America/New_York", None) == now
    night = {"start": "22:00", "end": "06:00"}
    assert allowed_at(now, "America/New_York", night) == now
    noon = at(2026, 7, 15, 16, 0)
    assert allowed_at(noon, "America/New_York", night) == at(2026, 7, 16, 2, 0)


def test_daily_occurrences_keep_local_time_across_dst():
    zone = "America/New_York"
    before = next_occurrence(
        at(2026, 3, 7, 12, 0), frequency="daily", at=dt.time(9, 0), timezone=zone
    )
    after = next_occurrence(before, frequency="daily", at=dt.time(9, 0), timezone=zone)
    assert before == at(2026, 3, 7, 14, 0)  # 09:00 EST
    assert after == at(2026, 3, 8, 13, 0)  # 09:00 EDT


def test_a_time_in_the_spring_gap_runs_once_just_after_it():
    moment = next_occurrence(
        at(2026, 3, 8, 5, 0),
        frequency="daily",
        at=dt.time(2, 30),
        timezone="America/New_York",
    )
    assert moment == at(2026, 3, 8, 7, 30)  # 03:30 EDT


def test_a_time_in_the_autumn_overlap_runs_once():
    first = next_occurrence(
        at(2026, 11, 1, 4, 0),
        frequency="daily",
        at=dt.time(1, 30),
        timezone="America/New_York",
    )
    second = next_occurrence(
        first, frequency="daily", at=dt.time(1, 30), timezone="America/New_York"
    )
    assert first == at(2026, 11, 1, 5, 30)
    assert second == at(2026, 11, 2, 6, 30)


def test_weekly_and_monthly():
    wednesday = next_occurrence(
        at(2026, 7, 15, 20, 0),
        frequency="weekly",
        at=dt.time(9, 0),
        timezone="UTC",
        weekday=2,
    )
    assert wednesday == at(2026, 7, 22, 9, 0)
    end_of_feb = next_occurrence(
        at(2027, 2, 1, 0, 0),
        frequency="monthly",
        at=dt.time(9, 0),
        timezone="UTC",
        day=31,
    )
    assert end_of_feb == at(2027, 2, 28, 9, 0)
    march = next_occurrence(
        end_of_feb, frequency="monthly", at=dt.time(9, 0), timezone="UTC", day=31
    )
    assert march == at(2027, 3, 31, 9, 0)
