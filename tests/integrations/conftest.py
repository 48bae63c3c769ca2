import pytest

from integrations import pco_client
from tests.fake_pco import FakeClock, FakePlanningCenter

APP_ID, SECRET = "pco-app", "pco-secret"
PUBLIC = "https://churchtext.example"


def phone(n: int) -> str:
    """A US number as Planning Center may hold it, distinct for each n < 50,000."""
    return f"(212) {550 + n // 10000}-{n % 10000:04d}"


def e164(n: int) -> str:
    return f"+1212{550 + n // 10000}{n % 10000:04d}"


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    """One time for the client and the stand-in, moved only by waiting."""
    fake = FakeClock()
    monkeypatch.setattr(pco_client, "clock", fake)
    monkeypatch.setattr(pco_client, "sleep", fake.sleep)
    return fake


@pytest.fixture
def pco(settings, clock):
    fake = FakePlanningCenter(APP_ID, SECRET, clock=clock).start()
    settings.PLANNING_CENTER_API_BASE = fake.base
    settings.PUBLIC_BASE_URL = PUBLIC
    yield fake
    fake.stop()


def connect(client, lists: list[str], *, secret: str = SECRET, app_id: str = APP_ID):
    return client.put(
        "/api/integrations/planning-center",
        {"app_id": app_id, "secret": secret, "lists": lists},
        format="json",
    )
