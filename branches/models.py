import uuid

from django.db import models


class Branch(models.Model):
    """A campus or ministry of the church, with its own time zone and number."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    address = models.CharField(max_length=300, blank=True, default="")
    timezone = models.CharField(max_length=64)
    phone_number = models.CharField(max_length=16, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
