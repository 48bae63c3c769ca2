from django.db import models


class DailyUsage(models.Model):
    """Messages and segments sent by this church on one (UTC) day: what is billed."""

    date = models.DateField(unique=True)
    messages = models.PositiveIntegerField(default=0)
    segments = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"{self.date}: {self.segments}"
