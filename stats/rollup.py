"""Keeping the daily statistics current: `bump` adds to a day's counters.

Each event adds to the row of its day in the church's time zone and of its
branch, in the transaction of the change it counts: an upsert that adds, so
concurrent events on one day never lose a count. Which day: a message's
outcome counts on the day it was sent (`send_day`), so a receipt arriving the
next day updates the day of the send; a message received, an opt-out or a new
member on the day it happened. `dashboard.stats.rebuild` recomputes the same
rows from the messages, consent records and members.
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from django.db import connections, router

from stats.models import COUNTERS, NO_BRANCH, DailyStat
from tenants.context import require_tenant


def local_day(instant: dt.datetime) -> dt.date:
    """The date of `instant` in the church's time zone (DST included)."""
    return instant.astimezone(ZoneInfo(require_tenant().timezone)).date()


def send_day(
    sent_at: dt.datetime | None,
    attempted_at: dt.datetime | None,
    created_at: dt.datetime,
) -> dt.date:
    """The day a message's outcome counts on: when it was sent, else last tried,
    else written."""
    return local_day(sent_at or attempted_at or created_at)


def bump(day: dt.date, branch: uuid.UUID | None, **deltas: int) -> None:
    """Add `deltas` (counter name -> amount, negative to take back) to a day."""
    deltas = {name: n for name, n in deltas.items() if n}
    if not deltas:
        return
    unknown = set(deltas) - set(COUNTERS)
    if unknown:
        raise ValueError(f"unknown counters: {sorted(unknown)}")
    connection = connections[router.db_for_write(DailyStat)]
    quote = connection.ops.quote_name
    table = quote(DailyStat._meta.db_table)
    meta = DailyStat._meta
    key = meta.get_field("branch").get_db_prep_value(branch or NO_BRANCH, connection)
    date = meta.get_field("day").get_db_prep_value(day, connection)
    names = list(deltas)
    columns = ", ".join(quote(n) for n in ["day", "branch", *names])
    marks = ", ".join(["%s"] * (len(names) + 2))
    adds = ", ".join(
        f"{quote(n)} = {table}.{quote(n)} + excluded.{quote(n)}" for n in names
    )
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES ({marks}) "
        f"ON CONFLICT ({quote('day')}, {quote('branch')}) DO UPDATE SET {adds}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [date, key, *deltas.values()])
