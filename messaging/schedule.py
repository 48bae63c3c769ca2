"""Time rules: quiet hours in the recipient's zone, and recurring occurrences."""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

UTC = dt.UTC


def _at(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """A local wall-clock time as a UTC instant.

    In a spring-forward gap (02:30 that never happens) zoneinfo reads the time
    with the earlier offset, landing just after the gap (03:30); in a fall-back
    overlap fold=0 picks the first of the two 01:30s. Either way: once.
    """
    return dt.datetime.combine(day, at).replace(tzinfo=zone).astimezone(UTC)


def allowed_at(now: dt.datetime, timezone: str, window: dict | None) -> dt.datetime:
    """`now` if it is inside the sending window in `timezone`, else its next opening.

    Quiet hours defer, never drop: a send outside the window waits for it.
    """
    if not window:
        return now
    zone = ZoneInfo(timezone)
    start = dt.time.fromisoformat(window["start"])
    end = dt.time.fromisoformat(window["end"])
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if inside:
        return now
    opening_day = local.date() if clock < start else local.date() + dt.timedelta(days=1)
    return _at(opening_day, start, zone)


def next_occurrence(
    after: dt.datetime,
    *,
    frequency: str,
    at: dt.time,
    timezone: str,
    weekday: int | None = None,
    day: int | None = None,
) -> dt.datetime:
    """The first occurrence strictly after `after` (UTC), in local time `at`."""
    zone = ZoneInfo(timezone)
    local_day = after.astimezone(zone).date()
    for offset in range(0, 400):
        candidate_day = local_day + dt.timedelta(days=offset)
        if frequency == "weekly" and candidate_day.weekday() != weekday:
            continue
        if frequency == "monthly":
            last = calendar.monthrange(candidate_day.year, candidate_day.month)[1]
            if candidate_day.day != min(day or 1, last):
                continue
        moment = _at(candidate_day, at, zone)
        if moment > after:
            return moment
    raise ValueError("no occurrence within a year")
