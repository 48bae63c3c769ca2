"""The church's own export: a zip of every table and members.csv, built in the
background, one at a time, fetched through a signed link that expires."""

import csv
import datetime as dt
import io
import json
import zipfile

import pytest
import time_machine
from django.apps import apps
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.test import APIClient

from members.models import Member
from messaging.models import Message
from privacy.church_export import expire_exports
from privacy.models import ChurchExport
from tenants.context import tenant_context
from tenants.lifecycle import purge_due, start_deletion
from tenants.models import Tenant
from tests.conftest import make_persona
from tests.members.test_members_api import HEADER, upload
from tests.messaging.fixtures import add_member, send

EXPORTS = "/api/tenant/exports"


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.STORAGES = {
        **django_settings.STORAGES,
        "exports": {
            "BACKEND": django_settings.LOCAL_STORAGE,
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    return tmp_path


def _ready_export(persona) -> dict:
    started = persona.client.post(EXPORTS)
    assert started.status_code == 202, started.content
    assert set(started.json()) >= {"id", "status"}
    answer = persona.client.get(f"{EXPORTS}/{started.json()['id']}")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ready", answer.json()
    return answer.json()


def _download(url: str, **headers):
    answer = APIClient().get(url.replace("http://testserver", ""), **headers)
    if answer.status_code != 200:
        return answer, None
    return answer, zipfile.ZipFile(io.BytesIO(b"".join(answer.streaming_content)))


def test_the_export_holds_every_table_and_an_importable_members_csv(church, bob):
    upload(
        church.client,
        HEADER + "Ann,Lee,+14155550101,a@x.org,,choir\nBo,Ray,+14155550102,,,\n",
    )
    send(church.client, body="Hello {first_name}", recipients={"all": True})
    add_member(bob.client, "+14155550199", first_name="Bobs")
    ready = _ready_export(church)
    assert ready["size"] > 0
    assert ready["expires_at"]
    answer, archive = _download(ready["download_url"])
    assert answer["Content-Type"] == "application/zip"
    tables = {
        f"{model._meta.db_table}.jsonl"
        for label in django_settings.TENANT_APPS
        for model in apps.get_app_config(label).get_models()
    }
    assert tables | {"members.csv"} == set(archive.namelist())
    members = [
        json.loads(line)
        for line in archive.read("members_member.jsonl").decode().splitlines()
    ]
    assert sorted(m["first_name"] for m in members) == ["Ann", "Bo"]  # not bob's
    messages = archive.read("messaging_message.jsonl").decode().splitlines()
    with tenant_context(church.tenant):
        assert len(messages) == Message.objects.count() == 2
    rows = list(csv.reader(io.StringIO(archive.read("members.csv").decode())))
    assert ",".join(rows[0]) + "\n" == HEADER
    assert len(rows) == 3
    # The CSV imports again as it is.
    with tenant_context(church.tenant):
        Member.objects.all().delete()
    report = upload(church.client, archive.read("members.csv").decode()).json()
    assert report["created"] == 2


def test_the_link_authorises_alone_and_only_for_its_export(alice, bob):
    ready = _ready_export(alice)
    # Another church's token sent along changes nothing: the link decides.
    answer, archive = _download(
        ready["download_url"], HTTP_AUTHORIZATION=f"Bearer {bob.access}"
    )
    assert answer.status_code == 200
    base, _, signature = ready["download_url"].partition("?signature=")
    other = _ready_export(bob)
    for url in [
        f"{base}?signature={signature[:-2]}xx",
        f"{base}?signature=",
        base,
        other["download_url"].split("?")[0] + f"?signature={signature}",
    ]:
        refused, _ = _download(url)
        assert refused.status_code == 403, url
        assert refused.json()["code"] == "invalid_signature"
    with time_machine.travel(timezone.now() + dt.timedelta(hours=25), tick=False):
        expired, _ = _download(ready["download_url"])
    assert expired.status_code == 403


def test_one_export_at_a_time_and_only_the_owner(alice, bob):
    ChurchExport.objects.create(tenant=alice.tenant)  # queued, not yet built
    busy = alice.client.post(EXPORTS)
    assert busy.status_code == 409
    assert busy.json()["code"] == "conflict"
    assert (
        make_persona(alice.tenant, role="admin").client.post(EXPORTS).status_code == 403
    )
    mine = _ready_export(bob)
    assert alice.client.get(f"{EXPORTS}/{mine['id']}").status_code == 404
    assert alice.client.get(f"{EXPORTS}/not-an-id").status_code == 404


def test_expired_exports_and_a_purged_churchs_exports_are_removed(
    alice, bob, export_dir
):
    _ready_export(alice)
    _ready_export(bob)
    assert len(list(export_dir.rglob("*.zip"))) == 2
    with time_machine.travel(timezone.now() + dt.timedelta(hours=25), tick=False):
        assert expire_exports() == 2
    assert not list(export_dir.rglob("*.zip"))
    _ready_export(alice)
    start_deletion(alice.tenant, by="test")
    Tenant.objects.filter(pk=alice.tenant.pk).update(purge_after=timezone.now())
    purge_due()
    assert not ChurchExport.objects.filter(tenant=alice.tenant).exists()
    assert not list(export_dir.rglob("*.zip"))


def test_text_with_quotes_backslashes_newlines_and_emoji_survives(alice):
    odd = {"first_name": 'Zoë "Q" \\ O\'Neil', "notes": "line one\nline\ttwo 🙏\u0001"}
    add_member(alice.client, "+14155550177", **odd)
    _, archive = _download(_ready_export(alice)["download_url"])
    [row] = [
        json.loads(line)
        for line in archive.read("members_member.jsonl").decode().splitlines()
    ]
    assert (row["first_name"], row["notes"]) == (odd["first_name"], odd["notes"])


def test_a_link_whose_file_is_gone_answers_404(alice, export_dir):
    ready = _ready_export(alice)
    for path in export_dir.rglob("*.zip"):
        path.unlink()
    gone, _ = _download(ready["download_url"])
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"
