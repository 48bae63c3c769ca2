"""Start-up invariants of messaging."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, register


@register()
def webhooks_verifiable(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[Error]:
    if settings.PRODUCTION and not settings.TWILIO_AUTH_TOKEN:
        return [
            Error(
                "Production needs TWILIO_AUTH_TOKEN: webhooks are verified with it.",
                id="messaging.E001",
            )
        ]
    return []
