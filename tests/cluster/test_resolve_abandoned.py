"""An abandoned run is closed by a person: an Incident Commander who checked the target records what they found
(succeeded, failed, partly done) with a note; the timeline and the audit log name them, and it never runs again."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from incidents.models import Incident, Severity, TimelineEvent
from incidents.services import incident_declare
from portal.accounts.roles import Role
from portal.cluster.models import ActionRun
from portal.cluster.runner import Outcome
from portal.cluster.services import action_run_finish, action_run_resolve, action_run_start, action_runs_reap
from portal.cluster.tasks import run_action
from portal.errors import ApplicationError, ConflictError, ForbiddenError
from tests.cluster.conftest import PROD_NS
from tests.cluster.test_services import lines, replicas, request

Status = ActionRun.Status


@pytest.fixture
def request_incident(people) -> Incident:
    return incident_declare(title="Checkout slow", severity=Severity.objects.get(code="P2"), reporter=people.commander)


@pytest.fixture
def abandoned(shop, k8s, people, settings, request_incident) -> ActionRun:
    run = request(
        people.commander, k8s, "scale", namespace=PROD_NS, deployment="web", replicas=3, incident=request_incident
    )
    started = action_run_start(run_id=run.pk, worker="w1@host")  # ... and the worker is killed here
    action_runs_reap(now=started.heartbeat_at + timedelta(seconds=settings.ACTION_STALE_AFTER_SECONDS))
    run.refresh_from_db()
    assert run.status == Status.ABANDONED
    return run


def test_a_commander_records_what_they_found_and_the_timeline_says_who(abandoned, people, shop):
    closed = action_run_resolve(
        run=abandoned, actor=people.second_commander, outcome="partial", note="2 of 3 pods came up; scaled by hand"
    )

    assert (closed.status, closed.resolved_by, closed.resolution_note) == (
        Status.PARTIAL, people.second_commander, "2 of 3 pods came up; scaled by hand",
    )  # fmt: skip
    assert closed.resolved_at is not None
    assert lines(closed)[-1] == (
        "closed by a person: partly done (checked by ivan): 2 of 3 pods came up; scaled by hand"
    )
    event = abandoned.incident.timeline.get(kind=TimelineEvent.Kind.ACTION, message__contains="closed")
    assert event.actor == people.second_commander
    assert "abandoned run closed as partly done (checked by ivan)" in event.message
    run_action(closed.pk, closed.requested_by_id)  # a late redelivery of the killed worker's message
    closed.refresh_from_db()
    assert (closed.status, replicas(shop)) == (Status.PARTIAL, 2), "never run again"


def test_a_late_worker_report_cannot_overwrite_a_persons_verdict(abandoned, people):
    action_run_resolve(run=abandoned, actor=people.commander, outcome="failed", note="nothing changed")

    with pytest.raises(ConflictError, match="arrived too late"):
        action_run_finish(run_id=abandoned.pk, status=Status.SUCCEEDED, outcome=Outcome("2 → 3 replicas"))


@pytest.mark.parametrize(
    ("outcome", "note", "field"),
    [("abandoned", "x", "outcome"), ("running", "x", "outcome"), ("succeeded", "  ", "note")],
)
def test_the_outcome_is_one_of_three_and_the_note_is_required(abandoned, people, outcome, note, field):
    with pytest.raises(ApplicationError) as raised:
        action_run_resolve(run=abandoned, actor=people.commander, outcome=outcome, note=note)
    assert raised.value.field == field


def test_only_an_incident_commander_closes_it_and_only_when_abandoned(abandoned, shop, k8s, people):
    with pytest.raises(ForbiddenError):
        action_run_resolve(run=abandoned, actor=people.responder, outcome="succeeded", note="looked fine")
    finished = request(people.responder, k8s, "rollout_history", namespace=PROD_NS, deployment="web")
    with pytest.raises(ConflictError, match="only an abandoned run"):
        action_run_resolve(run=finished, actor=people.commander, outcome="succeeded", note="n")


class TestApi:
    def test_the_audit_log_names_the_commander(self, abandoned, token_client):
        client = token_client(Role.INCIDENT_COMMANDER, username="nina")
        url = reverse("api:action-resolve", args=[abandoned.pk])

        response = client.post(url, {"outcome": "succeeded", "note": "3 replicas running"}, format="json")

        assert response.status_code == 200, response.json()
        body = response.json()
        assert (body["status"], body["resolved_by"], body["resolution_note"]) == (
            "succeeded", "nina", "3 replicas running",
        )  # fmt: skip
        entry = LogEntry.objects.get_for_object(abandoned).order_by("timestamp", "pk").last()
        assert entry.actor == client.user
        assert entry.changes_dict["status"] == ["abandoned", "succeeded"]
        again = client.post(url, {"outcome": "failed", "note": "n"}, format="json")
        assert again.status_code == 409

    def test_a_responder_is_refused_and_bad_input_names_the_field(self, abandoned, token_client):
        url = reverse("api:action-resolve", args=[abandoned.pk])
        assert token_client(Role.RESPONDER).post(url, {"outcome": "succeeded", "note": "n"}).status_code == 403
        response = token_client(Role.INCIDENT_COMMANDER).post(url, {"outcome": "maybe", "note": "n"}, format="json")
        assert response.status_code == 400
        assert "outcome" in str(response.json())


class TestPage:
    def test_the_run_page_offers_the_form_to_commanders_and_records_it(self, abandoned, client, people):
        client.force_login(people.commander)
        page = reverse("action-detail", args=[abandoned.pk])
        assert 'id="resolve-abandoned"' in client.get(page).content.decode()

        response = client.post(
            reverse("action-act", args=[abandoned.pk, "resolve"]),
            {"outcome": "failed", "note": "still 2 replicas"},
            HTTP_HX_REQUEST="true",
        )

        assert response.status_code == 200
        body = response.content.decode()
        assert 'id="resolve-abandoned"' not in body
        assert "Closed by" in body
        assert "still 2 replicas" in body
        abandoned.refresh_from_db()
        assert abandoned.status == Status.FAILED

    def test_a_responder_does_not_see_the_form(self, abandoned, client, people):
        client.force_login(people.responder)
        page = client.get(reverse("action-detail", args=[abandoned.pk]))
        assert 'id="resolve-abandoned"' not in page.content.decode()
