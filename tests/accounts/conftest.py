"""Helpers for the identity tests: a registered church and its owner."""

import pytest

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
