from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self) -> None:
        # The system check, and the periodic task that replays kept webhooks.
        from messaging import backlog, checks  # noqa: F401
