import datetime as dt
import threading
import uuid

from sms.backends.base import OutboundSMS, SendResult
from sms.backends.twilio import TwilioDialect

outbox: list[OutboundSMS] = []
_sids: dict[str, str] = {}
_lock = threading.Lock()


class LocMemBackend(TwilioDialect):
    """Keeps messages in `outbox` (this module's list), for tests."""

    def send(self, message: OutboundSMS) -> SendResult:
        sid = f"SM{uuid.uuid4().hex}"
        with _lock:
            outbox.append(message)
            _sids[message.key] = sid
        return SendResult(sid=sid, status="sent")

    def find_sent(self, message: OutboundSMS, since: dt.datetime) -> SendResult | None:
        sid = _sids.get(message.key)
        return SendResult(sid=sid, status="sent") if sid else None


def clear() -> None:
    with _lock:
        outbox.clear()
        _sids.clear()
