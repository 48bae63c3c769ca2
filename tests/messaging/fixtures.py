import pytest

from sms.backends import locmem
from tests.fakes import FakeTwilio

CHURCH_NUMBER = "+14155550000"


@pytest.fixture
def outbox(settings):
    settings.SMS_BACKEND = "locmem"
    settings.SMS_RATE_PER_NUMBER = 0  # no pacing in tests unless a test asks
    locmem.clear()
    yield locmem.outbox
    locmem.clear()


@pytest.fixture
def church(alice, outbox):
    """Tenant A with a sending number, quiet hours off, and its owner's client."""
    response = alice.client.patch(
        "/api/tenant",
        {"phone_number": CHURCH_NUMBER, "quiet_hours": None},
        format="json",
    )
    assert response.status_code == 200, response.content
    alice.tenant.refresh_from_db()
    return alice


@pytest.fixture
def fake_twilio(settings):
    fake = FakeTwilio().start()
    settings.SMS_BACKEND = "twilio"
    settings.SMS_RATE_PER_NUMBER = 0
    settings.TWILIO_ACCOUNT_SID = fake.account_sid
    settings.TWILIO_AUTH_TOKEN = fake.token
    settings.TWILIO_API_BASE_URL = fake.url
    yield fake
    fake.stop()


def add_member(client, phone: str, **fields) -> dict:
    body = {"first_name": "Member", "phone": phone, **fields}
    response = client.post("/api/members", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def set_quiet_hours(client, timezone: str) -> None:
    """Quiet hours 20:00-08:00 for the church, in `timezone`."""
    body = {"quiet_hours": {"start": "08:00", "end": "20:00"}, "timezone": timezone}
    response = client.patch("/api/tenant", body, format="json")
    assert response.status_code == 200, response.content


def send(client, **body):
    return client.post("/api/messages/send", body, format="json")
