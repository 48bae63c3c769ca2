"""Twilio: the Messages API through the official `twilio` client, and its webhooks."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from api.errors import InvalidSignature
from sms.backends.base import (
    OutboundSMS,
    PermanentError,
    SendResult,
    SMSBackend,
    TransientError,
)

TIMEOUT_SECONDS = 10


class TwilioDialect(SMSBackend):
    """Twilio's webhook answers (TwiML); the console and locmem backends stand in
    for Twilio, so they answer the same way."""

    def reply(self, text: str | None) -> HttpResponse:
        response = MessagingResponse()
        if text:
            response.message(text)
        return HttpResponse(str(response), content_type="text/xml")


class TwilioBackend(TwilioDialect):
    def __init__(self) -> None:
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=TwilioHttpClient(timeout=TIMEOUT_SECONDS),
        )
        if settings.TWILIO_API_BASE_URL:  # a local stand-in for Twilio (tests)
            self.client.api.base_url = settings.TWILIO_API_BASE_URL

    def send(self, message: OutboundSMS) -> SendResult:
        options = {"to": message.to, "from_": message.from_, "body": message.body}
        if message.status_callback:
            options["status_callback"] = message.status_callback
        try:
            created = self.client.messages.create(**options)
        except TwilioRestException as exc:
            raise _classify(exc) from exc
        except TwilioException as exc:  # connection trouble: we cannot know more
            raise TransientError(str(exc)) from exc
        except OSError as exc:
            raise TransientError(str(exc)) from exc
        return SendResult(sid=created.sid, status=created.status or "queued")

    def find_sent(self, message: OutboundSMS, since: dt.datetime) -> SendResult | None:
        try:
            candidates = self.client.messages.list(
                to=message.to, from_=message.from_, date_sent_after=since, limit=50
            )
        except (TwilioException, OSError) as exc:
            raise TransientError(str(exc)) from exc
        for candidate in candidates:
            if candidate.body == message.body:
                return SendResult(sid=candidate.sid, status=candidate.status or "sent")
        return None

    def verify(self, request: HttpRequest) -> None:
        """Check `X-Twilio-Signature` against our public URL and the form."""
        token = settings.TWILIO_AUTH_TOKEN
        if not token:
            super().verify(request)
            return
        url = request.build_absolute_uri()
        if settings.PUBLIC_BASE_URL:
            url = settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not RequestValidator(token).validate(
            url, request.POST, signature
        ):
            raise InvalidSignature()


def _classify(exc: TwilioRestException) -> Exception:
    code = str(exc.code or "")
    if exc.status == 429 or exc.status >= 500 or code in {"20429", "30001"}:
        return TransientError(exc.msg or "Twilio is busy", code=code)
    return PermanentError(exc.msg or "Twilio refused the message", code=code)
