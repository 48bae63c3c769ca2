"""Tasks used by the Celery tests (imported by the test worker with -I)."""

from celery import shared_task

from members.models import Member
from tenants.context import require_tenant
from tenants.tasks import TenantTask


@shared_task(base=TenantTask, name="tests.add_member")
def add_member(phone: str) -> dict:
    Member.objects.create(first_name="From a task", phone=phone)
    return {"tenant": str(require_tenant().id), "members": Member.objects.count()}
