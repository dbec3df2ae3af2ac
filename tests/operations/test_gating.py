"""Checklists that gate: a production deployment starts with its pre-deployment items ticked or an override reason
(kept and shown); a maintenance occurrence starts with its pre-maintenance items ticked and completes with its
post-maintenance ones, or the same override; the API answers 409 listing the open items."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from maintenance.models import ChecklistItem as MaintenanceItem
from maintenance.models import MaintenanceOccurrence, MaintenanceWindow
from maintenance.services import checklist_item_tick, occurrence_transition, window_create
from operations.models import Deployment
from operations.services.checklists import checklist_item_set_done
from operations.services.deployments import deployment_record, deployment_set_status, deployment_start
from portal.accounts.roles import Role
from portal.errors import ApplicationError, ChecklistOpenError, ConflictError

# A Tuesday a week before the Black Friday freeze: nothing is frozen.
T0 = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)
PRE = ["All tests passing in CI", "Code review approved", "Database migrations reviewed",
       "Environment variables verified", "Rollback plan documented"]  # fmt: skip
S = MaintenanceOccurrence.Status


@pytest.fixture(autouse=True)
def clock(time_machine):
    time_machine.move_to(T0, tick=False)


def plan(api, *, environment="production", at=T0 + timedelta(hours=1)):
    deployment, _ = deployment_record(service=api, environment=environment, version="v5", commit="abcdef12",
                                      who="ci", actor=None, status="planned", started_at=at, now=T0)  # fmt: skip
    return deployment


def pre_items(deployment: Deployment):
    return list(deployment.checklists.get(kind="pre_deployment").items.all())


class TestDeployments:
    def test_recorded_as_started_without_an_override_it_is_refused_listing_the_items(self, api):
        with pytest.raises(ChecklistOpenError) as refused:
            deployment_record(service=api, environment="production", version="v5", commit="abcdef12", who="ci",
                              actor=None, now=T0)  # fmt: skip
        assert refused.value.status_code == 409
        assert refused.value.extra == {"open_items": PRE}
        assert not Deployment.objects.exists()

    def test_an_override_reason_is_kept_on_the_deployment(self, api):
        deployment, _ = deployment_record(service=api, environment="production", version="v5", commit="abcdef12",
                                          who="ci", actor=None, now=T0, override_reason="hotfix")  # fmt: skip
        assert deployment.checklist_override == "hotfix"

    def test_a_planned_deployment_starts_once_its_pre_items_are_ticked(self, api, responder):
        deployment = plan(api)
        assert (deployment.status, deployment.started_at) == ("planned", T0 + timedelta(hours=1))
        *ticked, last = pre_items(deployment)
        for item in ticked:
            checklist_item_set_done(item=item, done=True, actor=responder, now=T0)

        with pytest.raises(ChecklistOpenError) as refused:
            deployment_start(deployment=deployment, actor=responder, now=T0 + timedelta(minutes=50))
        assert refused.value.extra == {"open_items": [last.text]}

        checklist_item_set_done(item=last, done=True, actor=responder, now=T0)
        started = deployment_start(deployment=deployment, actor=responder, now=T0 + timedelta(minutes=50))
        assert (started.status, started.started_at, started.checklist_override) == (
            "started",
            T0 + timedelta(minutes=50),
            "",
        )

    def test_starting_twice_or_through_the_status_endpoint_is_refused(self, api, responder):
        deployment = plan(api)
        with pytest.raises(ApplicationError) as refused:
            deployment_set_status(deployment=deployment, status="started")
        assert "start/" in refused.value.message
        deployment_start(deployment=deployment, actor=responder, override_reason="r", now=T0)
        with pytest.raises(ConflictError):
            deployment_start(deployment=deployment, actor=responder, override_reason="r", now=T0)

    def test_staging_deployments_carry_the_staging_verification_and_are_not_gated(self, api):
        deployment, _ = deployment_record(service=api, environment="staging", version="v5", commit="abcdef12",
                                          who="ci", actor=None, now=T0)  # fmt: skip
        [checklist] = deployment.checklists.all()
        assert (checklist.kind, checklist.items.count()) == ("staging_verification", 4)


class TestDeploymentApiAndPage:
    def test_the_api_answers_409_with_the_open_items_then_starts_with_an_override(self, token_client, api):
        ci = token_client(Role.RESPONDER, username="ci-bot")
        payload = {"service": "api", "environment": "production", "version": "v6", "commit": "0123abcd", "who": "ci",
                   "status": "planned", "started_at": "2026-11-17T12:00:00Z"}  # fmt: skip
        planned = ci.post(reverse("api:deployment-list"), payload, format="json")
        assert planned.status_code == 201, planned.json()
        pk = planned.json()["id"]

        refused = ci.post(reverse("api:deployment-start", args=[pk]), {}, format="json")
        assert refused.status_code == 409
        assert refused.json()["open_items"] == PRE

        started = ci.post(reverse("api:deployment-start", args=[pk]), {"override_reason": "CI ran them"}, format="json")
        assert started.status_code == 200
        assert (started.json()["status"], started.json()["checklist_override"]) == ("started", "CI ran them")

    def test_the_page_starts_a_planned_deployment_and_shows_the_override(self, client, make_user, api):
        deployment = plan(api)
        client.force_login(make_user(Role.RESPONDER))

        refused = client.post(reverse("deployment-start", args=[deployment.pk]), {})
        assert refused.status_code == 409
        assert 'id="open-items"' in refused.content.decode()
        assert (
            client.post(
                reverse("deployment-start", args=[deployment.pk]), {"override_reason": "CI ran them"}
            ).status_code
            == 302
        )
        page = client.get(reverse("deployment-detail", args=[deployment.pk])).content.decode()
        assert "Started with pre-deployment items open: CI ran them" in page


@pytest.fixture
def occurrence(api, make_user):
    admin = make_user(Role.ADMIN, username="ada")
    window = window_create(kind=MaintenanceWindow.Kind.ONE_OFF, name="LB swap", actor=admin,
                           starts_at=T0 + timedelta(days=1), duration=timedelta(hours=2),
                           notice_lead=timedelta(hours=24), services=[api], now=T0)  # fmt: skip
    return window.occurrences.get()


def tick(occurrence, phase, user):
    for item in occurrence.checklist.filter(phase=phase):
        checklist_item_tick(item=item, done=True, actor=user)


class TestMaintenance:
    def test_starting_with_pre_items_open_needs_an_override_which_goes_on_the_history(self, occurrence, make_user):
        commander = make_user(Role.INCIDENT_COMMANDER)
        with pytest.raises(ChecklistOpenError) as refused:
            occurrence_transition(occurrence=occurrence, to_status=S.IN_PROGRESS, actor=commander)
        assert len(refused.value.extra["open_items"]) == 6
        assert refused.value.extra["open_items"][0] == "Notify stakeholders (email + Slack)"

        started = occurrence_transition(occurrence=occurrence, to_status=S.IN_PROGRESS, actor=commander,
                                        override_reason="notified by phone")  # fmt: skip
        assert started.status == S.IN_PROGRESS
        event = started.history.get(kind="checklist")
        assert event.message == "6 pre-maintenance item(s) left open, overridden: notified by phone"

    def test_completing_needs_the_post_items(self, occurrence, make_user):
        commander = make_user(Role.INCIDENT_COMMANDER)
        tick(occurrence, MaintenanceItem.Phase.PRE, commander)
        started = occurrence_transition(occurrence=occurrence, to_status=S.IN_PROGRESS, actor=commander)
        with pytest.raises(ChecklistOpenError) as refused:
            occurrence_transition(occurrence=started, to_status=S.COMPLETED, actor=commander)
        assert refused.value.extra["open_items"][0] == "Verify all health checks passing"
        tick(occurrence, MaintenanceItem.Phase.POST, commander)
        done = occurrence_transition(occurrence=started, to_status=S.COMPLETED, actor=commander)
        assert done.status == S.COMPLETED
        assert not done.history.filter(kind="checklist", message__contains="overridden").exists()

    def test_the_api_answers_409_listing_the_open_items(self, occurrence, token_client):
        commander = token_client(Role.INCIDENT_COMMANDER)
        url = reverse("api:maintenance-occurrence-transition", args=[occurrence.pk])
        refused = commander.post(url, {"to_status": "in_progress"}, format="json")
        assert refused.status_code == 409
        assert len(refused.json()["open_items"]) == 6
        started = commander.post(url, {"to_status": "in_progress", "override_reason": "r"}, format="json")
        assert started.status_code == 200
