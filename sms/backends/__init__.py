"""SMS providers, chosen by SMS_BACKEND like Django's e-mail backends."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from sms.backends.base import (
    OutboundSMS,
    PermanentError,
    SendResult,
    SMSBackend,
    TransientError,
)

ALIASES = {
    "console": "sms.backends.console.ConsoleBackend",
    "locmem": "sms.backends.locmem.LocMemBackend",
    "twilio": "sms.backends.twilio.TwilioBackend",
}

__all__ = [
    "OutboundSMS",
    "PermanentError",
    "SMSBackend",
    "SendResult",
    "TransientError",
    "get_backend",
]


def get_backend() -> SMSBackend:
    path = ALIASES.get(settings.SMS_BACKEND, settings.SMS_BACKEND)
    backend: SMSBackend = import_string(path)()
    return backend
