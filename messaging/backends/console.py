import sys
import uuid

from messaging.backends.base import OutboundSMS, SendResult, SMSBackend


class ConsoleBackend(SMSBackend):
    """Prints each message: the embedded default, for development."""

    def send(self, message: OutboundSMS) -> SendResult:
        sys.stdout.write(f"SMS {message.from_} -> {message.to}: {message.body}\n")
        sys.stdout.flush()
        return SendResult(sid=f"CONSOLE{uuid.uuid4().hex}", status="sent")
