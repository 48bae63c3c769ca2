"""Monthly periods from an anchor, in UTC."""

import datetime as dt

import pytest

from billing.periods import add_months, period_containing

UTC = dt.UTC


@pytest.mark.parametrize(
    ("anchor", "months", "expected"),
    [
        (
            dt.datetime(2026, 1, 31, 9, tzinfo=UTC),
            1,
            dt.datetime(2026, 2, 28, 9, tzinfo=UTC),
        ),
        (
            dt.datetime(2028, 1, 31, 9, tzinfo=UTC),
            1,
            dt.datetime(2028, 2, 29, 9, tzinfo=UTC),
        ),
        (
            dt.datetime(2026, 1, 31, 9, tzinfo=UTC),
            2,
            dt.datetime(2026, 3, 31, 9, tzinfo=UTC),
        ),
        (
            dt.datetime(2026, 11, 15, tzinfo=UTC),
            2,
            dt.datetime(2027, 1, 15, tzinfo=UTC),
        ),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_months_last(anchor, months, expected):
    assert add_months(anchor, months) == expected


def test_the_period_containing_a_moment_counts_from_the_anchor():
    anchor = dt.datetime(2026, 1, 31, 12, tzinfo=UTC)
    start, end = period_containing(anchor, dt.datetime(2026, 3, 1, tzinfo=UTC))
    assert (start, end) == (
        dt.datetime(2026, 2, 28, 12, tzinfo=UTC),
        dt.datetime(2026, 3, 31, 12, tzinfo=UTC),
    )
    assert period_containing(anchor, end) == (
        end,
        dt.datetime(2026, 4, 30, 12, tzinfo=UTC),
    )
    assert period_containing(anchor, anchor)[0] == anchor
