"""The API's phone number field: what people type in, E.164 out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import serializers

from sms.phones import (
    E164_LENGTH,
    MAX_RAW_LENGTH,
    UNKNOWN_REGION,
    InvalidPhone,
    compact_phone,
    to_e164,
)


class PhoneField(serializers.CharField):
    """A phone number as people type or paste it, validated and stored as E.164.

    The length limit applies to what was typed (`sms.phones.MAX_RAW_LENGTH`);
    the parsed number fits the 16-character columns. `country(serializer)`
    names the region national numbers are read in. Without one the field is a
    provider's: international numbers are normalised, anything else that
    fits a column (a short code, an unassigned test range) is kept as sent,
    since which numbers exist is the provider's business. Blank is None when
    the field allows null.
    """

    def __init__(
        self, *, country: Callable[[Any], str] | None = None, **kwargs: Any
    ) -> None:
        self.country = country
        super().__init__(max_length=MAX_RAW_LENGTH, **kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        value = super().run_validation(data)
        return None if value == "" and self.allow_null else value

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if self.country is None:
            return _as_sent(value)
        try:
            return to_e164(value, str(self.country(self.root)))
        except InvalidPhone as exc:
            raise serializers.ValidationError(str(exc)) from exc


def _as_sent(value: str) -> str:
    try:
        return to_e164(value, UNKNOWN_REGION)
    except InvalidPhone:
        compact = compact_phone(value)
        if len(compact) > E164_LENGTH:
            raise serializers.ValidationError("Enter a valid phone number.") from None
        return compact
