"""Backups and restores: identical rows back, later opt-outs and erasures
re-applied, the old database kept then dropped, and clear refusals."""

import datetime as dt
import hashlib
import os
import stat
import uuid

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from backups import restoring
from backups.dumping import expired, storage
from backups.models import Backup
from backups.tasks import nightly_backups_task
from members.models import Member, Suppression
from messaging.models import Message, SegmentMeter
from tenants.context import tenant_context
from tenants.lifecycle import purge_due, start_deletion
from tenants.lookup import invalidate_tenant
from tenants.models import RetiredDatabase, Tenant
from tenants.privacy import record_event
from tenants.provisioning import reconcile_tenants
from tenants.servers import backend_for
from tests.members.test_members_api import HEADER, upload
from tests.messaging.fixtures import add_member, send
from tests.messaging.test_webhooks import inbound
from tests.privacy.dump import dump_text
from tests.tenants.test_admin import operator  # noqa: F401


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    settings.STORAGES = {
        **django_settings.STORAGES,
        "backups": {
            "BACKEND": django_settings.LOCAL_STORAGE,
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    settings.TENANT_RECORD_LOCAL_SECONDS = 0  # one process: nothing to wait for
    return tmp_path


def checksums(tenant) -> dict[str, tuple[int, str]]:
    """Per table: the row count and a digest of every row in key order."""
    found = {}
    with tenant_context(tenant):
        for label in django_settings.TENANT_APPS:
            for model in apps.get_app_config(label).get_models():
                digest = hashlib.sha256()
                rows = model.objects.order_by("pk").values_list()
                count = 0
                for row in rows.iterator():
                    digest.update(repr(row).encode())
                    count += 1
                found[model._meta.db_table] = (count, digest.hexdigest())
    return found


def _populate(church) -> None:
    upload(
        church.client,
        HEADER + "Ann,Lee,+14155550101,ann@x.org,,choir\nBo,Ray,+14155550102,,,\n",
    )
    send(church.client, body="Hello {first_name}", recipients={"all": True})
    inbound(church.client, "+14155550101", "Thank you!")


def _backup(tenant) -> Backup:
    call_command("tenant_backup", tenant.slug)
    return Backup.objects.filter(tenant=tenant).first()


def test_backup_then_restore_gives_identical_rows_in_every_table(church):
    _populate(church)
    before = checksums(church.tenant)
    backup = _backup(church.tenant)
    with storage().open(backup.file_name, "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == backup.sha256
    assert backup.size > 0
    assert (
        backup.fingerprint
        == Tenant.objects.get(pk=church.tenant.pk).migration_fingerprint
    )
    # Changes after the backup are gone after the restore.
    add_member(church.client, "+14155550103", first_name="Later")
    with tenant_context(church.tenant):
        Message.objects.filter(direction="inbound").delete()
    assert checksums(church.tenant) != before

    call_command("tenant_restore", church.tenant.slug, "--backup", str(backup.pk))

    assert checksums(church.tenant) == before
    assert church.client.get("/api/members").json()["count"] == 2
    tenant = Tenant.objects.get(pk=church.tenant.pk)
    assert tenant.status == "active"
    kept = RetiredDatabase.objects.get(tenant=tenant)
    assert kept.name.startswith(f"{tenant.database_name}_o")
    assert backend_for(tenant.server).database_exists(kept.name)
    # Past --keep-old, the reconciler drops the replaced database.
    RetiredDatabase.objects.filter(pk=kept.pk).update(drop_after=timezone.now())
    reconcile_tenants()
    assert not backend_for(tenant.server).database_exists(kept.name)
    assert not RetiredDatabase.objects.exists()


def test_a_restore_reapplies_stops_and_erasures_made_after_the_backup(church):
    _populate(church)
    backup = _backup(church.tenant)
    inbound(church.client, "+14155550101", "STOP")  # Ann stops after the backup
    bo = church.client.get("/api/members?search=Ray").json()["results"][0]
    church.client.post(f"/api/members/{bo['id']}/erase")  # Bo is erased
    inbound(church.client, "+14155550199", "STOP")  # a number the backup never saw

    call_command("tenant_restore", church.tenant.slug, "--backup", str(backup.pk))

    with tenant_context(church.tenant):
        assert Member.objects.get(phone="+14155550101").opted_out is True
        assert Suppression.objects.filter(phone="+14155550101").exists()
        assert not Member.objects.filter(phone="+14155550102").exists()
    dump = dump_text(church.tenant)
    assert "+14155550102" not in dump
    assert "Ray" not in dump
    # The stranger who said STOP stays opted out if ever added.
    assert add_member(church.client, "+14155550199")["opted_out"] is True
    add_member(church.client, "+14155550150", first_name="New")
    answer = send(church.client, body="Hi all", recipients={"all": True})
    assert answer.json()["opted_out_skipped"] == 2  # Ann and the stranger


def test_a_church_in_maintenance_answers_503_with_retry_after(alice, bob):
    Tenant.objects.filter(pk=alice.tenant.pk).update(status="maintenance")
    invalidate_tenant(alice.tenant.pk)
    answer = alice.client.get("/api/members")
    assert answer.status_code == 503
    assert answer.json()["code"] == "tenant_unavailable"
    assert int(answer["Retry-After"]) <= 5
    assert bob.client.get("/api/members").status_code == 200


def test_restores_refuse_another_churchs_backup_and_a_damaged_one(
    church, bob, backup_dir
):
    theirs = _backup(bob.tenant)
    with pytest.raises(CommandError, match="another church"):
        call_command("tenant_restore", church.tenant.slug, "--backup", str(theirs.pk))
    mine = _backup(church.tenant)
    path = backup_dir / mine.file_name
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(CommandError, match="checksum"):
        call_command("tenant_restore", church.tenant.slug, "--backup", str(mine.pk))
    with pytest.raises(CommandError, match="not a backup id"):
        call_command("tenant_restore", church.tenant.slug, "--backup", "nope")
    with pytest.raises(CommandError, match="no backup"):
        call_command(
            "tenant_restore", church.tenant.slug, "--at", "2001-01-01T00:00:00"
        )
    assert not RetiredDatabase.objects.exists()  # nothing was started


@pytest.mark.postgres
def test_a_pg_restore_older_than_the_server_is_refused(alice, tmp_path, monkeypatch):
    backup = _backup(alice.tenant)
    fake = tmp_path / "bin" / "pg_restore"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'pg_restore (PostgreSQL) 9.6.24'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(CommandError, match="older than the server"):
        call_command("tenant_restore", alice.tenant.slug, "--backup", str(backup.pk))
    assert Tenant.objects.get(pk=alice.tenant.pk).status == "active"


def test_nightly_backups_cover_every_active_church_and_keep_by_retention(alice, bob):
    Tenant.objects.filter(pk=bob.tenant.pk).update(status="suspended")
    assert nightly_backups_task() == 1
    assert Backup.objects.filter(tenant=alice.tenant).count() == 1
    assert not Backup.objects.filter(tenant=bob.tenant).exists()
    template = Backup.objects.get(tenant=alice.tenant)
    now = timezone.now()
    old = {}
    for days in (3, 20, 40, 41, 400):
        copy = Backup.objects.get(pk=template.pk)
        copy.pk = None
        copy.id = uuid.uuid4()
        copy.started_at = now - dt.timedelta(days=days)
        copy.save()
        old[days] = copy
    gone = {b.pk for b in expired(alice.tenant, now)}
    firsts = {}
    for days, backup in sorted(old.items(), reverse=True):
        firsts.setdefault((backup.started_at.year, backup.started_at.month), days)
    for days, backup in old.items():
        month_first = firsts[(backup.started_at.year, backup.started_at.month)] == days
        kept = days <= 14 or (month_first and days < 366)
        assert (backup.pk not in gone) == kept, days


def test_a_purged_church_takes_its_backups_along(alice, backup_dir):
    _backup(alice.tenant)
    assert list(backup_dir.rglob("*.dump"))
    start_deletion(alice.tenant, by="test")
    Tenant.objects.filter(pk=alice.tenant.pk).update(purge_after=timezone.now())
    purge_due()
    assert not Backup.objects.exists()
    assert not list(backup_dir.rglob("*.dump"))


def test_the_console_backs_up_and_lists_copies(operator, alice):  # noqa: F811
    page = operator.post(
        "/admin/tenants/tenant/",
        {"action": "backup", "_selected_action": [str(alice.tenant.pk)]},
    )
    assert page.status_code == 302
    assert Backup.objects.filter(tenant=alice.tenant).count() == 1
    for path in [
        "/admin/backups/backup/",
        "/admin/tenants/retireddatabase/",
        "/admin/tenants/pendingwebhook/",
    ]:
        assert operator.get(path).status_code == 200, path


def test_purging_a_restored_church_drops_the_copy_its_restore_kept(alice):
    backup = _backup(alice.tenant)
    call_command("tenant_restore", alice.tenant.slug, "--backup", str(backup.pk))
    kept = RetiredDatabase.objects.get(tenant=alice.tenant)
    call_command("delete_tenant", alice.tenant.slug, "--now")
    assert not backend_for(kept.server).database_exists(kept.name)
    assert not RetiredDatabase.objects.exists()
    assert Tenant.objects.get(pk=alice.tenant.pk).status == "deleted"


def test_messages_sent_since_the_backup_are_not_sent_again(church, outbox):
    add_member(church.client, "+14155550101")
    tomorrow = (timezone.now() + dt.timedelta(days=1)).isoformat()
    send(
        church.client, body="Tomorrow", recipients={"all": True}, scheduled_at=tomorrow
    )
    backup = _backup(church.tenant)  # the message is waiting in it
    with tenant_context(church.tenant):
        Message.objects.update(
            status="delivered", sent_at=timezone.now(), provider_sid="SMsent"
        )

    call_command("tenant_restore", church.tenant.slug, "--backup", str(backup.pk))

    with tenant_context(church.tenant):
        message = Message.objects.get()
        assert (message.status, message.provider_sid) == ("delivered", "SMsent")
        assert SegmentMeter.objects.get().reserved == 0


def test_an_opt_out_recorded_while_the_copy_was_prepared_is_applied(
    church, monkeypatch
):
    _populate(church)
    backup = _backup(church.tenant)
    counting = restoring.count_rows

    def count_then_stop() -> dict:
        # A STOP lands (in the registry) after the first pass over the events.
        record_event(
            "opt_out", phone="+14155550102", source="keyword", tenant=church.tenant
        )
        return counting()

    monkeypatch.setattr(restoring, "count_rows", count_then_stop)
    call_command("tenant_restore", church.tenant.slug, "--backup", str(backup.pk))
    with tenant_context(church.tenant):
        assert Member.objects.get(phone="+14155550102").opted_out is True
