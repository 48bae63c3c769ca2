"""The Celery app. Tenant tasks use tenants.tasks.TenantTask as their base."""

import logging
import os

from celery import Celery
from celery.signals import setup_logging, task_postrun, worker_process_shutdown

import telemetry.tasks  # noqa: F401  (connects the request-id and task metric signals)
from tenants.connections import forget_all, release_stale_wrappers

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("churchtext")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect  # type: ignore[untyped-decorator]  # celery ships no annotations
def _keep_django_logging(loglevel: int | str | None = None, **_: object) -> None:
    """Workers log as settings.LOGGING says (JSON lines, request ids), not as
    Celery's own set-up would; Celery's own lines at the worker's `-l` level."""
    if loglevel:
        logging.getLogger("celery").setLevel(loglevel)


@task_postrun.connect  # type: ignore[untyped-decorator]  # celery ships no annotations
def _drop_stale_tenant_wrappers(**_: object) -> None:
    release_stale_wrappers()


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]  # celery ships no annotations
def _close_tenant_aliases(**_: object) -> None:
    forget_all()
