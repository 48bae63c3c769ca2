"""Serializer fields that several apps share: time zones, countries, clock times."""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any
from zoneinfo import available_timezones

import phonenumbers
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@cache
def known_timezones() -> frozenset[str]:
    """IANA names, read once: the tz database is on disk and takes ~25 ms to list."""
    return frozenset(available_timezones())


class TimezoneField(serializers.CharField):
    """An IANA time zone name such as America/Chicago."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=64, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value not in known_timezones():
            raise serializers.ValidationError(
                "Use an IANA time zone such as America/Chicago."
            )
        return value


class CountryField(serializers.CharField):
    """An ISO 3166 alpha-2 code that phonenumbers knows, stored upper-case."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=2, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data).strip().upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise serializers.ValidationError("Use an ISO 3166 alpha-2 country code.")
        return value


@extend_schema_field(
    {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "08:00"}
)
class ClockField(serializers.TimeField):
    """A local wall-clock time written "HH:MM"."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", input_formats=["%H:%M"], **kwargs)


def parse_uuid(value: object) -> uuid.UUID | None:
    """A UUID from a query parameter or path segment, or None if it is not one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
