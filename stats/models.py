"""The church's daily statistics, kept current as things happen (`stats.rollup`)."""

import uuid

from django.db import models

NO_BRANCH = uuid.UUID(int=0)  # the row of what belongs to no branch

COUNTERS = (
    "messages_sent",  # outbound messages handed to the provider, that day
    "segments",  # their segments
    "delivered",  # of the messages sent that day: receipts, whenever they came
    "undelivered",
    "failed",
    "broadcast_delivered",  # delivered, of broadcasts (response rate's base)
    "replies",  # broadcast messages answered within 72 h (counted on the send day)
    "inbound",  # messages received that day
    "opt_outs",  # opt-outs recorded that day
    "new_members",  # members created that day (and still members)
)


class DailyStat(models.Model):
    """One day (in the church's time zone) of one branch, or of no branch."""

    day = models.DateField()
    branch = models.UUIDField(default=NO_BRANCH)
    messages_sent = models.IntegerField(default=0, db_default=0)
    segments = models.IntegerField(default=0, db_default=0)
    delivered = models.IntegerField(default=0, db_default=0)
    undelivered = models.IntegerField(default=0, db_default=0)
    failed = models.IntegerField(default=0, db_default=0)
    broadcast_delivered = models.IntegerField(default=0, db_default=0)
    replies = models.IntegerField(default=0, db_default=0)
    inbound = models.IntegerField(default=0, db_default=0)
    opt_outs = models.IntegerField(default=0, db_default=0)
    new_members = models.IntegerField(default=0, db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "branch"], name="stat_day_branch")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.branch}"
