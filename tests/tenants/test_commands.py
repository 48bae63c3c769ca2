"""Operator commands: clear output, clear errors, non-zero exit on failure."""

import json
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from members.models import Member
from tenants.context import tenant_context
from tenants.models import Tenant
from tests.conftest import ROOT, make_tenant


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_provision_tenant_creates_an_active_tenant(registry):
    out = run("provision_tenant", "Grace Church", "--slug", "grace", "--country", "ca")
    tenant = Tenant.objects.get(slug="grace")
    assert tenant.status == Tenant.Status.ACTIVE
    assert tenant.country == "CA"
    assert f"grace {tenant.id} active" in out


def test_provision_tenant_errors(registry):
    run("provision_tenant", "Grace Church", "--slug", "grace")
    with pytest.raises(CommandError, match="taken"):
        run("provision_tenant", "Other", "--slug", "grace")
    with pytest.raises(CommandError, match="No database server named 'nope'"):
        run("provision_tenant", "Other", "--server", "nope")
    assert Tenant.objects.count() == 1


def test_list_tenants_as_json(registry):
    one, two = make_tenant("One"), make_tenant("Two")
    rows = [json.loads(line) for line in run("list_tenants", "--json").splitlines()]
    assert [r["slug"] for r in rows] == [one.slug, two.slug]
    assert {r["status"] for r in rows} == {"active"}


def test_suspend_and_resume(registry):
    tenant = make_tenant("Sleepy")
    assert "suspended" in run("suspend_tenant", tenant.slug)
    with pytest.raises(CommandError, match="only a active tenant"):
        run("suspend_tenant", tenant.slug)
    assert "active" in run("resume_tenant", tenant.slug)
    with pytest.raises(CommandError, match="No tenant with slug 'ghost'"):
        run("resume_tenant", "ghost")


def test_tenant_shell_runs_inside_the_tenant(registry):
    tenant = make_tenant("Shell")
    run(
        "tenant_shell",
        tenant.slug,
        "-c",
        "from members.models import Member; "
        "Member.objects.create(first_name='Cli', phone='+14155550100')",
    )
    with tenant_context(tenant):
        assert Member.objects.get().first_name == "Cli"
    with pytest.raises(CommandError, match="No tenant"):
        run("tenant_shell", "ghost", "-c", "pass")


@pytest.mark.parametrize(
    "command",
    [
        "provision_tenant",
        "migrate_tenants",
        "list_tenants",
        "suspend_tenant",
        "resume_tenant",
        "reconcile_tenants",
        "tenant_shell",
        "bootstrap",
    ],
)
def test_every_command_has_help(command):
    result = subprocess.run(
        [sys.executable, "manage.py", command, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "usage:" in result.stdout


def test_a_failing_command_exits_non_zero():
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate_tenants", "--parallel", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--parallel must be at least 1" in result.stderr
