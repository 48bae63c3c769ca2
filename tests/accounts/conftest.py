"""Helpers for the identity tests: a registered church and its owner."""

import re
from urllib.parse import unquote

import pytest

from sms.backends import locmem

PASSWORD = "correct horse battery staple"


def register(client, **overrides):
    body = {
        "organization_name": "  Grace Church  ",
        "email": "Pastor@Grace.example",
        "password": PASSWORD,
        "first_name": "Pat",
        "last_name": "Pastor",
        "timezone": "America/Chicago",
        "country": "us",
        **overrides,
    }
    return client.post("/api/auth/register", body, format="json")


def login(client, email="pastor@grace.example", password=PASSWORD, **extra):
    return client.post(
        "/api/auth/login",
        {"email": email, "password": password, **extra},
        format="json",
    )


def bearer(client, access):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


@pytest.fixture
def pastor(anon, registry):
    body = register(anon).json()
    anon.credentials()
    return body


def link_token(message, path: str) -> str:
    """The one-time token of the link to `path` in an email."""
    found = re.search(rf"/{path}\?token=([\w%-]+)", message.body)
    assert found, message.body
    return unquote(found.group(1))


def last_email(mailoutbox, to: str):
    sent = [m for m in mailoutbox if to in m.to]
    assert sent, [m.to for m in mailoutbox]
    return sent[-1]


@pytest.fixture
def texts(settings):
    """Texts sent through the SMS backend (the platform's phone codes)."""
    settings.SMS_BACKEND = "locmem"
    locmem.clear()
    yield locmem.outbox
    locmem.clear()


def texted_code(texts, to: str) -> str:
    sent = [t for t in texts if t.to == to]
    assert sent
    return re.search(r"\b(\d{6})\b", sent[-1].body).group(1)
