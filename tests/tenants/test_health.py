"""Liveness and readiness."""


def test_healthz(anon):
    for path in ("/healthz", "/healthz/"):
        response = anon.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_readyz_reports_each_dependency(anon, registry):
    response = anon.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"registry": "ok", "cache": "ok", "broker": "ok"}


def test_readyz_is_503_only_when_the_registry_is_down(anon, registry, monkeypatch):
    monkeypatch.setattr("tenants.probes._registry_state", lambda: "down")
    response = anon.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "down"

    monkeypatch.setattr("tenants.probes._registry_state", lambda: "ok")
    monkeypatch.setattr("tenants.probes.cache_state", lambda: "degraded")
    response = anon.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"


def test_unknown_paths_answer_json(anon):
    response = anon.get("/no/such/path")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_probes_ignore_the_token_of_a_suspended_tenant(alice):
    from tenants.models import Tenant
    from tenants.services import suspend_tenant

    suspend_tenant(tenant=Tenant.objects.get(pk=alice.tenant.pk))
    assert alice.client.get("/healthz").status_code == 200
    assert alice.client.get("/readyz").status_code == 200
