"""Which tenant database servers this process currently believes are down.

A stopped server makes the first request wait for a connection timeout; the
following requests for any tenant on that server answer 503 at once until the
hold expires, when one request is let through to try again.
"""

import threading
import time

HOLD_SECONDS = 10.0

_down_until: dict[int, float] = {}
_lock = threading.Lock()


def mark_server_down(server_id: int, seconds: float = HOLD_SECONDS) -> None:
    with _lock:
        _down_until[server_id] = time.monotonic() + seconds


def server_is_down(server_id: int) -> bool:
    until = _down_until.get(server_id)
    if until is None:
        return False
    if time.monotonic() < until:
        return True
    with _lock:
        # Half-open: let this request probe; the others keep failing fast.
        if _down_until.get(server_id) == until:
            _down_until[server_id] = time.monotonic() + HOLD_SECONDS
            return False
    return True


def mark_server_up(server_id: int) -> None:
    if server_id not in _down_until:
        return
    with _lock:
        _down_until.pop(server_id, None)
