"""/metrics: the Prometheus exposition, behind its token, counting what happened."""

import os
import subprocess
import sys
from pathlib import Path

from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]


def scrape(client, token="s3cret") -> dict:
    answer = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 200, answer.content
    return {
        family.name: family
        for family in text_string_to_metric_families(answer.content.decode())
    }


def value(families: dict, name: str, sample: str, **labels: str) -> float:
    family = families.get(name)
    if family is None:
        return 0.0
    return sum(
        s.value
        for s in family.samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    )


@override_settings(METRICS_TOKEN="s3cret")
def test_requests_are_counted_by_route_method_and_status(alice, anon):
    route = "api/members/?$"  # the members list's URL pattern
    before = scrape(anon)
    for _ in range(3):
        assert alice.client.get("/api/members").status_code == 200
    assert alice.client.get("/api/members/not-a-uuid").status_code == 404
    after = scrape(anon)

    total = "churchtext_http_requests_total"
    counted = value(after, "churchtext_http_requests", total, route=route, status="200")
    assert (
        counted
        - value(before, "churchtext_http_requests", total, route=route, status="200")
        == 3
    )
    latency = "churchtext_http_request_duration_seconds"
    assert value(after, latency, latency + "_count", route=route) >= 3
    # Alice's church is registered as an alias in this process.
    aliases = "churchtext_tenant_aliases"
    assert value(after, aliases, aliases) >= 1
    for family in after.values():
        if family.name.startswith("churchtext_"):
            for sample in family.samples:
                assert not {"tenant", "tenant_id", "church"} & set(sample.labels)


@override_settings(METRICS_TOKEN="s3cret", METRICS_ALLOW=set())
def test_a_wrong_or_missing_metrics_token_is_a_401(anon, alice):
    wrong = anon.get("/metrics", HTTP_AUTHORIZATION="Bearer guess")
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "not_authenticated"
    assert anon.get("/metrics").status_code == 401
    # A church's own access token is not a metrics token.
    assert alice.client.get("/metrics").status_code == 401


@override_settings(METRICS_TOKEN="", METRICS_ALLOW={"127.0.0.1"})
def test_an_allowed_address_needs_no_token(anon):
    assert anon.get("/metrics").status_code == 200


@override_settings(METRICS_TOKEN="", METRICS_ALLOW=set())
def test_without_a_token_or_an_allow_list_nobody_reads_metrics(anon):
    assert anon.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


@override_settings(METRICS_TOKEN="s3cret")
def test_provisioning_is_timed_by_outcome(anon, registry):
    from tests.conftest import make_tenant

    before = scrape(anon)
    make_tenant("Counted Church")
    after = scrape(anon)
    name = "churchtext_provisioning_duration_seconds"
    assert (
        value(after, name, name + "_count", outcome="ok")
        == value(before, name, name + "_count", outcome="ok") + 1
    )


def test_worker_processes_are_added_up_in_multiprocess_mode(tmp_path):
    """Under gunicorn each worker counts in its own file; /metrics sums them."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = (
        "from telemetry import metrics;"
        "metrics.requests.labels('GET', 'r', '200').inc(2)"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, cwd=ROOT, check=True)
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "from telemetry.metrics import exposition;print(exposition()[0].decode())",
        ],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    families = {f.name: f for f in text_string_to_metric_families(shown)}
    assert (
        value(
            families,
            "churchtext_http_requests",
            "churchtext_http_requests_total",
            route="r",
        )
        == 4
    )
