"""The documented shapes of the dashboard's answers."""

from typing import Any

from rest_framework import serializers


class StepSerializer(serializers.Serializer[Any]):
    key = serializers.ChoiceField(
        choices=["profile", "sending_number", "members", "first_message", "team",
                 "mfa", "plan"]
    )  # fmt: skip
    title = serializers.CharField()
    done = serializers.BooleanField()
    done_at = serializers.DateTimeField(required=False)
    help = serializers.CharField(help_text="the endpoint that completes the step")


class OnboardingSerializer(serializers.Serializer[Any]):
    steps = StepSerializer(many=True)
    completed = serializers.BooleanField(help_text="every step but mfa is done")
    dismissed = serializers.BooleanField()
