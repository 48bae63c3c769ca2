"""Liveness and readiness probes."""

from celery import current_app
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse

from tenants.cache import cache_state


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _registry_state() -> str:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return "down"
    return "ok"


def _broker_state() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "ok"  # tasks run in-process
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
    except Exception:
        return "degraded"
    return "ok"


def readyz(request: HttpRequest) -> JsonResponse:
    checks = {
        "registry": _registry_state(),
        "cache": cache_state(),
        "broker": _broker_state(),
    }
    if checks["registry"] == "down":
        overall = "down"
    elif any(state != "ok" for state in checks.values()):
        overall = "degraded"
    else:
        overall = "ok"
    return JsonResponse(
        {"status": overall, "checks": checks}, status=503 if overall == "down" else 200
    )


# Probes answer for the process, whatever token a client sends along.
healthz.uses_tenant = False  # type: ignore[attr-defined]
readyz.uses_tenant = False  # type: ignore[attr-defined]
