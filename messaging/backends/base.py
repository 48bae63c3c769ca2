"""What a provider backend does: send one SMS, and find one it may have sent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


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
