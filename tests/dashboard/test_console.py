"""The operators' console: usage per church and for the fleet, and churches
still short of onboarding a week after registering."""

import datetime as dt

from django.utils import timezone

from billing.models import UsageRollup
from dashboard.tasks import record_onboarding_task
from tenants.models import Tenant
from tests.billing.test_console import operator  # noqa: F401 - a fixture
from tests.conftest import make_tenant


def test_usage_per_day_per_church_and_for_the_fleet(operator, alice, bob):  # noqa: F811
    day = dt.date(2026, 11, 2)
    UsageRollup.objects.create(tenant=alice.tenant, date=day, messages=7, segments=9)
    UsageRollup.objects.create(tenant=bob.tenant, date=day, messages=3, segments=4)
    page = operator.get("/admin/billing/usagerollup/")
    assert page.status_code == 200
    html = page.content.decode()
    fleet = html.split('id="fleet"')[1].split("</table>")[0]
    assert "<td>2</td><td>10</td><td>13</td>" in fleet  # two churches, summed
    assert alice.tenant.slug in html
    assert bob.tenant.slug in html
    one = operator.get(f"/admin/billing/usagerollup/?q={alice.tenant.slug}")
    fleet = one.content.decode().split('id="fleet"')[1].split("</table>")[0]
    assert "<td>1</td><td>7</td><td>9</td>" in fleet
    assert operator.get("/admin/billing/usagerollup/add/").status_code == 403


def test_churches_short_of_onboarding_after_a_week_are_listed(operator, registry):  # noqa: F811
    week_old = make_tenant("Week Old Chapel")
    fresh = make_tenant("Brand New Chapel")
    done = make_tenant("Well Begun Chapel")
    old = timezone.now() - dt.timedelta(days=8)
    Tenant.objects.filter(pk__in=[week_old.pk, done.pk]).update(created_at=old)
    Tenant.objects.filter(pk=done.pk).update(onboarded_at=timezone.now())
    assert record_onboarding_task() == 2  # the week-old one and the fresh one
    page = operator.get("/admin/tenants/tenant/?onboarding=late")
    assert page.status_code == 200
    html = page.content.decode()
    assert week_old.slug in html
    assert fresh.slug not in html
    assert done.slug not in html
