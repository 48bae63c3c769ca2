"""Registry housekeeping for identity."""

from celery import shared_task

from accounts.email import send_email_task  # noqa: F401  (registered for workers)
from accounts.revocation import purge_expired


@shared_task(name="accounts.tasks.purge_revocations_task")
def purge_revocations_task() -> int:
    """Forget revocations of tokens that have expired anyway."""
    return purge_expired()
