from __future__ import annotations

from typing import Any

from rest_framework import serializers

from integrations.models import SyncRun

# Planning Center's application ids and secrets are printable ASCII (hex); HTTP
# Basic could not carry anything else.
_TOKEN = r"^[!-~]+$"
_TOKEN_ERROR: dict[str, Any] = {
    "invalid": "Printable ASCII only, as Planning Center gives it."
}


class ConnectSerializer(serializers.Serializer[Any]):
    app_id = serializers.RegexField(_TOKEN, max_length=200, error_messages=_TOKEN_ERROR)
    secret = serializers.RegexField(
        _TOKEN, max_length=500, write_only=True, error_messages=_TOKEN_ERROR
    )
    lists = serializers.ListField(
        child=serializers.RegexField(r"^[0-9A-Za-z_-]{1,64}$"),
        max_length=100,
        allow_empty=True,
    )


class ListSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    name = serializers.CharField()


class RunSerializer(serializers.ModelSerializer[SyncRun]):
    class Meta:
        model = SyncRun
        fields = [
            "id",
            "trigger",
            "status",
            "started_at",
            "finished_at",
            "seen",
            "created",
            "updated",
            "skipped",
            "errors",
            "requests",
        ]


class StateSerializer(serializers.Serializer[Any]):
    connected = serializers.BooleanField()
    app_id = serializers.CharField(required=False)
    lists = ListSerializer(many=True, required=False)
    webhooks = serializers.BooleanField(
        required=False, help_text="whether Planning Center's webhooks are subscribed"
    )
    connected_at = serializers.DateTimeField(required=False)
    next_sync_at = serializers.DateTimeField(required=False)
    last_run = RunSerializer(required=False)
