"""Pacing: sends from one number stay under SMS_RATE_PER_NUMBER per second."""

from __future__ import annotations

import math
import time

from django.conf import settings

from tenants.cache import count_hit


def wait_for_slot(number: str) -> None:
    """Block until `number` may send one more message (shared through the cache)."""
    rate = settings.SMS_RATE_PER_NUMBER
    if rate <= 0 or not number:
        return
    window = max(1.0, 1.0 / rate)
    capacity = max(1, math.floor(rate * window))
    while True:
        now = time.time()
        slot = int(now // window)
        # Shared through the cache (keys scoped to the tenant, whose number it
        # is); while Redis is down each process counts for itself.
        if count_hit(f"sms-rate:{number}:{slot}", math.ceil(window) + 1) <= capacity:
            return
        time.sleep((slot + 1) * window - now)
