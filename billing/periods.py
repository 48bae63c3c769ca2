"""Billing periods: a month from the subscription's anchor, in UTC."""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(anchor: dt.datetime, months: int) -> dt.datetime:
    """`anchor` moved by whole months; the 31st becomes the month's last day."""
    index = anchor.month - 1 + months
    year, month = anchor.year + index // 12, index % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def period_containing(
    anchor: dt.datetime, when: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """The monthly period, counted from `anchor`, that `when` falls in."""
    months = max(0, (when.year - anchor.year) * 12 + when.month - anchor.month - 1)
    while add_months(anchor, months + 1) <= when:
        months += 1
    return add_months(anchor, months), add_months(anchor, months + 1)
