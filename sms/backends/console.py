import sys
import uuid

from sms.backends.base import OutboundSMS, SendResult
from sms.backends.twilio import TwilioDialect


class ConsoleBackend(TwilioDialect):
    """Prints each message: the embedded default, for development."""

    def send(self, message: OutboundSMS) -> SendResult:
        sys.stdout.write(f"SMS {message.from_} -> {message.to}: {message.body}\n")
        sys.stdout.flush()
        return SendResult(sid=f"CONSOLE{uuid.uuid4().hex}", status="sent")
