"""Email to account holders: rendered from templates, sent by Celery after commit.

Each email is `accounts/email/<name>_subject.txt`, `<name>.txt` and
`<name>.html` under the app's templates. Links point at the client app
(PUBLIC_APP_URL) and carry their one-time token as `?token=`.
"""

from __future__ import annotations

import logging
import smtplib
from typing import Any
from urllib.parse import urlencode

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


def app_link(path: str, token: str) -> str:
    base = settings.PUBLIC_APP_URL.rstrip("/")
    return f"{base}/{path.lstrip('/')}?{urlencode({'token': token})}"


def send_email(*, to: str, template: str, context: dict[str, Any]) -> None:
    """Queue one email once the registry transaction commits."""
    transaction.on_commit(lambda: send_email_task.delay(to, template, context))


def render(template: str, context: dict[str, Any]) -> EmailMultiAlternatives:
    context = {"app_url": settings.PUBLIC_APP_URL, **context}
    subject = render_to_string(f"accounts/email/{template}_subject.txt", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string(f"accounts/email/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
    )
    html = render_to_string(f"accounts/email/{template}.html", context)
    message.attach_alternative(html, "text/html")
    return message


@shared_task(
    name="accounts.email.send_email_task",
    bind=True,
    max_retries=5,
    default_retry_delay=60,
)
def send_email_task(self: Any, to: str, template: str, context: dict[str, Any]) -> bool:
    """Send one email; SMTP trouble is retried, a refused address is logged."""
    message = render(template, context)
    message.to = [to]
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:  # a bounce: retrying cannot help
        logger.error("email %s to %s refused: %s", template, to, exc)
        return False
    except OSError as exc:  # smtplib's errors, timeouts, refused connections
        if settings.CELERY_TASK_ALWAYS_EAGER or self.request.retries >= 5:
            # Never a failed request because of mail: the sender is told in logs.
            logger.error("email %s to %s not sent: %s", template, to, exc)
            return False
        raise self.retry(exc=exc) from exc
    return True
