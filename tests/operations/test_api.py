from datetime import timedelta

import pytest
from django.urls import reverse

from operations.models import Slo
from operations.tasks import refresh_slo, sweep_slos
from portal.accounts.roles import Role
from tests.operations.conftest import T0

LISTS = ["slo-list", "burn-alert-list", "burn-rate-rule-list", "recovery-objective-list", "backup-schedule-list",
         "backup-verification-list", "drill-plan-list", "drill-record-list", "runbook-list", "deployment-list",
         "checklist-template-list", "checklist-list"]  # fmt: skip


@pytest.mark.parametrize("name", LISTS)
def test_viewers_read_every_list_and_anonymous_is_refused(token_client, api_client, name):
    assert token_client(Role.VIEWER).get(reverse(f"api:{name}")).status_code == 200
    assert api_client.get(reverse(f"api:{name}")).status_code == 401


@pytest.mark.parametrize(
    ("role", "expected"), [(Role.RESPONDER, 403), (Role.INCIDENT_COMMANDER, 403), (Role.ADMIN, 200)]
)
def test_only_admins_configure(token_client, role, expected):
    client = token_client(role)
    assert client.patch(reverse("api:slo-detail", args=["api-latency"]), {"target": 400}).status_code == expected
    assert client.patch(reverse("api:runbook-detail", args=["high-cpu"]), {"owner_team": "SRE"}).status_code == expected


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"max_acceptable": 99.95}, "max_acceptable"), ({"source": "prometheus", "promql": ""}, "promql"),
     ({"unit": "ms"}, "unit")],
)  # fmt: skip
def test_slo_configuration_is_validated(token_client, payload, field):
    response = token_client(Role.ADMIN).patch(
        reverse("api:slo-detail", args=["api-availability"]), payload, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_slo_detail_reports_the_budget(token_client, availability, add_samples):
    add_samples(availability, value=0, minutes=10, end=T0 - timedelta(days=1))
    body = token_client(Role.VIEWER).get(reverse("api:slo-detail", args=["api-availability"])).json()
    assert body["budget"]["allowed_minutes"] == pytest.approx(43.2)
    assert [rate["rule"] for rate in body["burn_rates"]] == ["Fast burn", "Slow burn", "Budget drift"]


def test_samples_are_posted_by_responders(token_client, availability):
    url = reverse("api:slo-samples", args=["api-availability"])
    sample = {"start": "2026-01-01T00:00:00Z", "seconds": 300, "value": 99.95}
    assert token_client(Role.VIEWER).post(url, sample, format="json").status_code == 403
    response = token_client(Role.RESPONDER).post(url, sample, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["end"] == "2026-01-01T00:05:00Z"
    bad = token_client(Role.RESPONDER).post(url, sample | {"value": 140}, format="json")
    assert bad.status_code == 400
    assert bad.json()["field"] == "value"


def test_runbook_api_writes_alert_names_and_quick_actions(token_client):
    body = {"slug": "disk-full", "title": "Disk full", "when": "Disk above 95%", "body": "Free space.",
            "last_reviewed_on": "2026-01-05", "alertnames": ["DiskSpaceCritical"],
            "quick_actions": [{"label": "Restart", "kind": "restart", "deployment": "broxiva-api",
                               "namespace": "broxiva-production"}]}  # fmt: skip
    response = token_client(Role.ADMIN).post(reverse("api:runbook-list"), body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["quick_actions"][0]["url"].startswith("/actions/new/?kind=restart")
    bad = body | {"slug": "other", "quick_actions": [{"label": "x", "kind": "scale"}]}
    response = token_client(Role.ADMIN).post(reverse("api:runbook-list"), bad, format="json")
    assert response.status_code == 400
    assert response.json()["field"].startswith("quick_actions[0].")


def test_slo_list_query_count_does_not_grow(token_client, django_assert_num_queries):
    client = token_client(Role.VIEWER)
    client.get(reverse("api:me"))
    with django_assert_num_queries(7) as six_slos:  # token, roles, count, page, rules, tallies, open alerts
        client.get(reverse("api:slo-list"))
    Slo.objects.create(name="Search latency", slug="search", sli="p95", unit="ms", comparison="lte", target=300,
                       max_acceptable=900, method="time_slices", time_slice_objective=99, source="api")  # fmt: skip
    with django_assert_num_queries(len(six_slos.captured_queries)):
        assert client.get(reverse("api:slo-list")).json()["count"] == 7


def test_sweep_enqueues_one_refresh_per_active_slo(db, monkeypatch):
    sent = []
    monkeypatch.setattr(refresh_slo, "delay", sent.append)  # the broker is not under test here
    Slo.objects.filter(slug="web-page-load").update(active=False)
    assert sweep_slos() == 5
    assert len(sent) == 5
    assert refresh_slo(Slo.objects.get(slug="web-page-load").pk) == 0
