from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import Severity
from incidents.services import incident_declare
from operations import policy
from operations.models import Deployment
from operations.services.deployments import DeploymentFrozenError, deployment_record, deployment_set_status
from portal.accounts.roles import Role
from portal.errors import ApplicationError, ConflictError

# Production deployments are refused in the real freeze calendar from 2026-11-24 (Black Friday week): a week before.
T0 = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    level: str | None = None
    reasons: list[str] = field(default_factory=list)
    until: datetime | None = None
    rule: str = ""
    passed_by: str | None = None
    incident_id: int | None = None
    approved_by_id: int | None = None


def black_friday(environment, at, change, incident=None):
    """A freeze calendar with a reduced freeze on production, and one approved exception."""
    if environment != "production":
        return Verdict(allowed=True)
    reasons = ["Black Friday / Cyber Monday freeze: no deployments."]
    if change == "CHG-7":
        return Verdict(allowed=True, level="reduced", reasons=[*reasons, "Exception #3 for CHG-7 approved by ada."],
                       passed_by="exception")  # fmt: skip
    return Verdict(allowed=False, level="reduced", reasons=reasons, until=T0 + timedelta(days=3))


def record(api, **fields):
    # CI says why the pre-deployment items are open: the gating checklist has tests of its own (test_gating.py).
    defaults = {"service": api, "environment": "production", "version": "v1.4.2", "commit": "a1b2c3d4e5", "who": "ci",
                "actor": None, "now": T0, "override_reason": "ticked in CI"}  # fmt: skip
    return deployment_record(**(defaults | fields))


class TestFreeze:
    def test_a_deployment_during_a_freeze_is_refused_with_the_gates_reason(self, api):
        with pytest.raises(DeploymentFrozenError) as raised:
            record(api, freeze_check=black_friday)
        error = raised.value
        assert error.status_code == 409
        assert error.field == "environment"
        assert "Black Friday / Cyber Monday freeze" in error.message
        assert error.extra["freeze"]["until"] == (T0 + timedelta(days=3)).isoformat()
        assert not Deployment.objects.exists()

    def test_an_approved_exception_lets_it_through_and_is_kept(self, api):
        deployment, created = record(api, change="CHG-7", freeze_check=black_friday)
        assert created
        assert (deployment.freeze_level, deployment.freeze_pass) == ("reduced", "exception")
        assert "Exception #3 for CHG-7 approved by ada." in deployment.freeze_reasons

    def test_other_environments_are_not_frozen(self, api):
        deployment, _ = record(api, environment="staging", freeze_check=black_friday)
        assert deployment.freeze_level == ""
        assert deployment.freeze_reasons == []

    def test_the_gate_is_asked_about_the_deployments_start_and_change(self, api):
        asked = []

        def gate(environment, at, change, incident):
            asked.append((environment, at, change))
            return Verdict(allowed=True)

        record(api, started_at=T0 - timedelta(minutes=3), change="CHG-1", freeze_check=gate)
        assert asked == [("production", T0 - timedelta(minutes=3), "CHG-1")]

    def test_the_freeze_calendar_answers_for_production_on_black_friday(self, db):
        verdict = policy.deploy_freeze("production", datetime(2026, 11, 27, 12, tzinfo=UTC), None)
        assert not verdict.allowed
        assert verdict.level == "blocked"
        assert verdict.until == datetime(2026, 12, 2, tzinfo=UTC)


class TestRecord:
    def test_production_deployments_get_the_seeds_checklists(self, api):
        deployment, _ = record(api)
        checklists = {c.kind: [item.text for item in c.items.all()] for c in deployment.checklists.all()}
        assert checklists["pre_deployment"] == ["All tests passing in CI", "Code review approved",
                                                "Database migrations reviewed", "Environment variables verified",
                                                "Rollback plan documented"]  # fmt: skip
        assert checklists["post_deployment"][0] == "Production health check"
        staging, _ = record(api, environment="staging", version="v1.4.3")
        [verification] = staging.checklists.all()
        assert [item.text for item in verification.items.all()] == [
            "Smoke tests passing", "API health check OK", "Frontend loads correctly", "Critical user flows working"
        ]  # fmt: skip

    def test_the_same_ci_run_twice_is_one_deployment(self, api):
        first, created = record(api, external_id="gha-991")
        again, created_again = record(api, external_id="gha-991")
        assert (created, created_again, again.pk) == (True, False, first.pk)
        with pytest.raises(ConflictError) as raised:
            record(api, external_id="gha-991", version="v9")
        assert raised.value.field == "external_id"

    def test_who_is_linked_to_a_portal_user_of_that_name(self, api, responder):
        deployment, _ = record(api, who="rami")
        assert deployment.deployed_by == responder

    @pytest.mark.parametrize(
        ("change", "field"),
        [({"commit": "XYZ"}, "commit"), ({"environment": "moon"}, "environment"),
         ({"started_at": T0 + timedelta(minutes=1)}, "started_at")],
    )  # fmt: skip
    def test_bad_input_names_the_field(self, api, change, field):
        with pytest.raises(ApplicationError) as raised:
            record(api, **change)
        assert raised.value.field == field

    def test_status_moves_forward_only(self, api):
        deployment, _ = record(api)
        deployment = deployment_set_status(deployment=deployment, status="succeeded", now=T0 + timedelta(minutes=4))
        assert deployment.finished_at == T0 + timedelta(minutes=4)
        deployment = deployment_set_status(deployment=deployment, status="rolled_back")
        with pytest.raises(ApplicationError) as raised:
            deployment_set_status(deployment=deployment, status="succeeded")
        assert raised.value.extra["allowed"] == []


class TestApi:
    def payload(self, **fields):
        return {"service": "api", "environment": "staging", "version": "v2.0.0", "commit": "0123abcd", "who": "ci-bot",
                "external_id": "run-1"} | fields  # fmt: skip

    def test_ci_posts_and_reads_back(self, token_client, api):
        ci = token_client(Role.RESPONDER, username="ci-bot")
        response = ci.post(reverse("api:deployment-list"), self.payload(), format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert (body["service"], body["status"], body["recorded_by"]) == ("api", "started", "ci-bot")
        assert [checklist["kind"] for checklist in body["checklists"]] == ["staging_verification"]
        assert ci.post(reverse("api:deployment-list"), self.payload(), format="json").status_code == 200
        done = ci.post(reverse("api:deployment-status", args=[body["id"]]), {"status": "succeeded"})
        assert done.json()["status"] == "succeeded"

    @pytest.mark.parametrize(
        ("fields", "field"),
        [({"commit": "not-hex"}, "commit"), ({"service": "nope"}, "service"), ({"environment": "qa"}, "environment"),
         ({"status": "exploded"}, "status"), ({"who": ""}, "who")],
    )  # fmt: skip
    def test_bad_posts_are_400s_naming_the_field(self, token_client, api, fields, field):
        response = token_client(Role.RESPONDER).post(
            reverse("api:deployment-list"), self.payload(**fields), format="json"
        )
        assert response.status_code == 400
        assert field in response.json()["errors"]

    def test_viewers_read_but_cannot_post(self, token_client, api):
        viewer = token_client(Role.VIEWER)
        assert viewer.get(reverse("api:deployment-list")).status_code == 200
        assert viewer.post(reverse("api:deployment-list"), self.payload(), format="json").status_code == 403

    def test_list_query_count_is_constant(self, token_client, api, django_assert_num_queries):
        client = token_client(Role.VIEWER)
        client.get(reverse("api:me"))
        record(api, environment="staging")
        with django_assert_num_queries(5) as few:  # token, its user's roles, the service filter, count, page
            client.get(reverse("api:deployment-list"), {"service": "api"})
        for index in range(10):
            record(api, environment="staging", version=f"v{index}")
        with django_assert_num_queries(len(few.captured_queries)):
            assert client.get(reverse("api:deployment-list"), {"service": "api"}).json()["count"] == 11


class TestPages:
    def test_incident_page_lists_recent_changes_to_its_services(self, client, make_user, api):
        now = timezone.now()
        # staging: the real freeze calendar must not decide whether this test passes on the day it runs
        recent, _ = record(api, version="v7.7.7", environment="staging", started_at=now - timedelta(hours=2), now=now)
        record(api, version="v0.0.1", environment="staging", started_at=now - timedelta(days=3), now=now)  # too old
        incident = incident_declare(title="5xx", severity=Severity.objects.get(code="P2"), reporter=None,
                                    services=[api], detected_at=now - timedelta(minutes=30), now=now)  # fmt: skip
        client.force_login(make_user(Role.VIEWER))
        html = client.get(reverse("incident-detail", args=[incident.pk])).content.decode()
        section = html.split('id="recent-changes"', 1)[1].split("</section>", 1)[0]
        assert "v7.7.7" in section
        assert "v0.0.1" not in section

    def test_dashboard_shows_recent_deployments(self, client, make_user, api):
        record(api, version="v3.1.4", environment="staging", now=timezone.now())
        client.force_login(make_user(Role.VIEWER))
        html = client.get(reverse("dashboard")).content.decode()
        assert "v3.1.4" in html.split('id="recent-deployments"', 1)[1]

    def test_deployment_list_htmx_returns_the_table(self, client, make_user, api):
        record(api)
        client.force_login(make_user(Role.VIEWER))
        html = client.get(
            reverse("deployment-list"), {"environment": "production"}, HTTP_HX_REQUEST="true"
        ).content.decode()
        assert html.lstrip().startswith('<section class="card" id="deployment-table"')
        assert "v1.4.2" in html


def test_ci_is_refused_during_a_freeze_from_the_calendar(token_client, api):
    from maintenance.models import FreezeRule

    today = timezone.now().date()
    FreezeRule.objects.create(
        name="Incident freeze", kind=FreezeRule.Kind.ONE_OFF, level="blocked", environments=["production"],
        first_day=today, last_day=today, reason="Stabilising",
    )  # fmt: skip
    payload = {"service": "api", "environment": "production", "version": "v9", "commit": "0123abcd", "who": "ci",
               "override_reason": "ticked in CI"}  # fmt: skip
    response = token_client(Role.RESPONDER).post(reverse("api:deployment-list"), payload, format="json")
    assert response.status_code == 409
    assert "Incident freeze" in response.json()["detail"]
