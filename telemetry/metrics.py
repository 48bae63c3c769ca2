"""The process's Prometheus metrics, served at /metrics (`telemetry.views`).

Under gunicorn each worker is a process: with PROMETHEUS_MULTIPROC_DIR set
(`config/gunicorn.py` sets it) prometheus-client keeps the values in files
there and /metrics adds up every worker's. No metric has a tenant label: ten
thousand churches would be ten thousand series per metric; per-church figures
live in the registry and the admin.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

_PREFIX = "churchtext_"
_FAST = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

requests = Counter(
    _PREFIX + "http_requests", "HTTP requests answered", ["method", "route", "status"]
)
request_seconds = Histogram(
    _PREFIX + "http_request_duration_seconds",
    "Time to answer an HTTP request (until the view returned)",
    ["method", "route"],
    buckets=_FAST,
)
tenant_aliases = Gauge(
    _PREFIX + "tenant_aliases",
    "Tenant database aliases registered in the process",
    multiprocess_mode="livesum",
)
tenant_alias_events = Counter(
    _PREFIX + "tenant_alias_events",
    "Tenant aliases: misses (registered anew), evictions, connections opened",
    ["event"],
)
breaker_open = Gauge(
    _PREFIX + "breaker_open",
    "1 while a circuit breaker refuses calls (cache: Redis)",
    ["breaker"],
    multiprocess_mode="livemax",
)
provisioning_seconds = Histogram(
    _PREFIX + "provisioning_duration_seconds",
    "Provisioning of a church's database, by outcome",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
tasks = Counter(
    _PREFIX + "celery_tasks", "Celery tasks run, by name and outcome", ["task", "state"]
)
sms = Counter(
    _PREFIX + "sms_messages",
    "SMS handed to the provider or failed, by the provider's status",
    ["status"],
)
quota_refusals = Counter(_PREFIX + "quota_refusals", "Sends refused by a plan's quota")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def exposition() -> tuple[bytes, str]:
    """The text exposition of every process's metrics, and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
