"""What a provider backend does: send one SMS, find one it may have sent, and
speak the provider's webhook dialect (verify a callback, answer it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from api.errors import InvalidSignature


@dataclass(frozen=True)
class OutboundSMS:
    to: str
    from_: str
    body: str
    key: str  # our message id: unique per message, kept by backends that can
    status_callback: str | None = None


@dataclass(frozen=True)
class SendResult:
    sid: str
    status: str = "queued"


class TransientError(Exception):
    """Worth retrying later (rate limited, provider down, timeout)."""

    def __init__(
        self, message: str, *, code: str = "", retry_after: float | None = None
    ):
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


class PermanentError(Exception):
    """Retrying will not help (invalid number, opted out at the carrier...)."""

    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.code = code


class SMSBackend:
    def send(self, message: OutboundSMS) -> SendResult:
        raise NotImplementedError

    def find_sent(self, message: OutboundSMS, since: dt.datetime) -> SendResult | None:
        """The provider's record of `message` if it was accepted (after a crash)."""
        return None

    def verify(self, request: HttpRequest) -> None:
        """Refuse a webhook the provider did not sign (InvalidSignature).

        A backend that cannot check signatures accepts webhooks in development
        only: in production anyone could otherwise forge a member's STOP.
        """
        if settings.PRODUCTION:
            raise InvalidSignature("Webhooks need a backend that verifies them.")

    def reply(self, text: str | None) -> HttpResponse:
        """The answer to an inbound webhook, carrying `text` back to the sender."""
        raise NotImplementedError
