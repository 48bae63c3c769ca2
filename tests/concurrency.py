"""Running a function from several real threads at once, as concurrent requests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def run_together(count: int, work: Callable[[], Any]) -> list[Any]:
    """`work()` from `count` threads released together; their results (any order).

    Each thread closes its own database connections when done.
    """
    barrier, results = threading.Barrier(count), []

    def one() -> None:
        try:
            barrier.wait()
            results.append(work())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
