"""A worker killed mid-batch: after it is replaced, nobody is messaged twice or lost."""

import time

from messaging.models import Message
from tenants.context import tenant_context
from tests.conftest import CeleryWorker, publishing_to, worker_environment
from tests.messaging.fixtures import add_member, send

RECIPIENTS = 12


def wait_until(condition, timeout: float, step=None) -> bool:
    deadline = time.monotonic() + timeout
    next_step = 0.0
    while time.monotonic() < deadline:
        if condition():
            return True
        if step and time.monotonic() >= next_step:
            step()  # what beat would do, every couple of seconds
            next_step = time.monotonic() + 2
        time.sleep(0.2)
    return condition()


def test_no_recipient_is_messaged_twice_when_a_worker_dies(
    church, redis_server, fake_twilio, settings
):
    for i in range(RECIPIENTS):
        add_member(church.client, f"+141555501{i:02}")
    fake_twilio.delay = 0.3  # a slow provider: the kill lands mid-request
    env = worker_environment(
        redis_server.url,
        SMS_BACKEND="twilio",
        SMS_RATE_PER_NUMBER="0",
        TWILIO_ACCOUNT_SID=fake_twilio.account_sid,
        TWILIO_AUTH_TOKEN=fake_twilio.token,
        TWILIO_API_BASE_URL=fake_twilio.url,
        SMS_SEND_BATCH=str(RECIPIENTS),
        SMS_STALE_SENDING_SECONDS="2",
        CELERY_VISIBILITY_TIMEOUT="3",
    )
    first = CeleryWorker(env, concurrency=1).start()
    settings.SMS_STALE_SENDING_SECONDS = 2
    with publishing_to(redis_server.url) as app:
        assert (
            send(
                church.client, body="Hello {first_name}", recipients={"all": True}
            ).status_code
            == 202
        )
        assert wait_until(lambda: len(fake_twilio.created) >= 4, timeout=60)
        first.kill()
        partial = len(fake_twilio.created)
        assert partial < RECIPIENTS

        second = CeleryWorker(env, concurrency=1).start()
        try:

            def all_sent() -> bool:
                with tenant_context(church.tenant):
                    return not Message.objects.exclude(status="sent").exists()

            def sweep() -> None:
                from messaging.tasks import sweep_due_task

                app.send_task(sweep_due_task.name)

            time.monotonic()
            assert wait_until(all_sent, timeout=120, step=sweep)
        finally:
            second.stop()

    phones = [m["to"] for m in fake_twilio.created]
    assert len(phones) == RECIPIENTS  # every recipient exactly once
    assert len(set(phones)) == RECIPIENTS
