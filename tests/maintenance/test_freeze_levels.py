"""One table of freeze levels: what gets a change through reduced, emergency-only and blocked freezes, asked by the
deploy gate, the deployments log, cluster actions and maintenance alike; every pass listed on the freezes page."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from incidents.models import Incident, Severity
from incidents.services import incident_declare, incident_transition
from maintenance import policy
from maintenance.models import FreezePass, MaintenanceOccurrence
from maintenance.services import freeze_exception_decide, freeze_exception_request, occurrence_transition
from operations.models import Deployment
from operations.services.deployments import DeploymentFrozenError, deployment_record
from portal.accounts.roles import Role
from portal.errors import ApplicationError, ConflictError, ForbiddenError

BLOCKED_AT = datetime(2026, 11, 27, 10, tzinfo=UTC)  # Black Friday 2026: blocked
EMERGENCY_ONLY_AT = datetime(2026, 12, 25, 10, tzinfo=UTC)  # Christmas: emergency fixes only
REDUCED_AT = datetime(2026, 12, 31, 10, tzinfo=UTC)  # the quarter's last two days: reduced
CHECK = reverse("api:freeze-check")
S = MaintenanceOccurrence.Status


@pytest.fixture
def second_commander(make_user):
    return make_user(Role.INCIDENT_COMMANDER, username="ivan")


def declare(code: str, reporter, *, resolved: bool = False) -> Incident:
    incident = incident_declare(title=f"{code} outage", severity=Severity.objects.get(code=code), reporter=reporter)
    if resolved:
        incident = incident_transition(
            incident=incident, to_status=Incident.Status.RESOLVED, confirm=True, actor=reporter
        )
    return incident


def approved_exception(change: str, at: datetime, *, requester, approver, incident: Incident | None = None):
    exception = freeze_exception_request(
        change=change, reason="cannot wait", environment="production", starts_at=at - timedelta(hours=1),
        ends_at=at + timedelta(hours=1), actor=requester, incident=incident,
    )  # fmt: skip
    return freeze_exception_decide(exception=exception, approve=True, actor=approver)


# (level, passes offered) -> allowed: written out, not derived from the table.
TABLE = [
    ("reduced", set(), False),
    ("reduced", {"exception"}, True),
    ("reduced", {"emergency"}, True),
    ("emergency-only", {"exception"}, False),
    ("emergency-only", {"emergency"}, True),
    ("emergency-only", {"approved-emergency"}, True),
    ("blocked", {"exception"}, False),
    ("blocked", {"emergency"}, False),
    ("blocked", {"exception", "emergency"}, False),
    ("blocked", {"approved-emergency"}, True),
]


@pytest.mark.parametrize(("level", "passes", "allowed"), TABLE)
def test_the_table_of_levels(level, passes, allowed):
    assert (policy.level_admits(level, passes) is not None) is allowed


class TestTheGate:
    def test_a_blocked_freeze_refuses_an_approved_exception_without_an_emergency(self, token_client, admin, commander):
        approved_exception("CHG-1", BLOCKED_AT, requester=admin, approver=commander)

        body = (
            token_client(Role.VIEWER)
            .get(CHECK, {"environment": "production", "at": BLOCKED_AT.isoformat(), "change": "CHG-1"})
            .json()
        )

        assert (body["allowed"], body["level"], body["passed_by"]) == (False, "blocked", None)
        assert body["rule"].startswith("Blocked: only an emergency linked to an open P1 or P2 incident and approved")

    def test_an_emergency_without_a_second_person_does_not_pass_a_blocked_freeze(self, token_client, commander):
        incident = declare("P1", commander)
        params = {"environment": "production", "at": BLOCKED_AT.isoformat(), "emergency": "true",
                  "incident": incident.pk}  # fmt: skip

        body = token_client(Role.VIEWER).get(CHECK, params).json()

        assert (body["allowed"], body["passed_by"]) == (False, None)

    def test_an_approved_emergency_passes_a_blocked_freeze_and_says_which_rule(self, token_client, admin, commander):
        incident = declare("P2", admin)
        exception = approved_exception("CHG-2", BLOCKED_AT, requester=admin, approver=commander, incident=incident)

        body = (
            token_client(Role.VIEWER)
            .get(CHECK, {"environment": "production", "at": BLOCKED_AT.isoformat(), "change": "CHG-2"})
            .json()
        )

        assert (body["allowed"], body["level"], body["passed_by"]) == (True, "blocked", "approved-emergency")
        assert (body["exception"], body["incident"], body["approved_by"]) == (exception.pk, incident.pk, commander.pk)
        assert body["reasons"][-1] == (
            f"Allowed: Exception #{exception.pk} for CHG-2 approved by cora as an emergency for {incident.reference} "
            "(P2)."
        )

    def test_of_two_approved_exceptions_for_a_change_the_emergency_one_counts(self, admin, commander):
        approved_exception("CHG-9", BLOCKED_AT, requester=admin, approver=commander)  # plain, and first
        emergency = approved_exception("CHG-9", BLOCKED_AT, requester=admin, approver=commander,
                                       incident=declare("P1", admin))  # fmt: skip

        status = policy.freeze_status("production", BLOCKED_AT, "CHG-9")

        assert (status.allowed, status.exception_id) == (True, emergency.pk)

    def test_an_approved_emergency_stops_passing_once_its_incident_is_resolved(self, admin, commander):
        incident = declare("P1", admin)
        approved_exception("CHG-3", BLOCKED_AT, requester=admin, approver=commander, incident=incident)
        incident_transition(incident=incident, to_status=Incident.Status.RESOLVED, confirm=True, actor=commander)

        assert not policy.freeze_status("production", BLOCKED_AT, "CHG-3").allowed

    def test_reduced_lets_an_approved_exception_through(self, admin, commander):
        approved_exception("CHG-4", REDUCED_AT, requester=admin, approver=commander)

        status = policy.freeze_status("production", REDUCED_AT, "CHG-4")

        assert (status.allowed, status.level, status.passed_by) == (True, "reduced", "exception")
        assert status.rule.startswith("Reduced: a change goes through with an approved freeze exception")

    @pytest.mark.parametrize(("code", "resolved", "allowed"), [
        ("P1", False, True), ("P2", False, True), ("P3", False, False), ("P1", True, False),
    ])  # fmt: skip
    def test_emergency_only_needs_an_open_p1_or_p2(self, commander, code, resolved, allowed):
        incident = declare(code, commander, resolved=resolved)

        status = policy.freeze_status("production", EMERGENCY_ONLY_AT, emergency=True, incident=incident)

        assert (status.allowed, status.level) == (allowed, "emergency-only")
        assert status.passed_by == ("emergency" if allowed else None)

    def test_emergency_only_says_what_an_emergency_lacks(self, admin, commander):
        approved_exception("CHG-5", EMERGENCY_ONLY_AT, requester=admin, approver=commander)

        status = policy.freeze_status("production", EMERGENCY_ONLY_AT, "CHG-5", emergency=True)

        assert not status.allowed  # an exception is not an emergency
        assert status.reasons[-1] == "An emergency change names the open P1 or P2 incident it answers."


class TestEmergencyExceptions:
    def test_an_emergency_exception_names_an_open_p1_or_p2(self, admin):
        with pytest.raises(ApplicationError) as refused:
            freeze_exception_request(change="CHG-6", reason="r", environment="production", actor=admin,
                                     starts_at=BLOCKED_AT, ends_at=BLOCKED_AT + timedelta(hours=1),
                                     incident=declare("P3", admin))  # fmt: skip
        assert refused.value.field == "incident"

    def test_the_requester_cannot_be_the_second_person(self, commander):
        exception = freeze_exception_request(change="CHG-7", reason="r", environment="production", actor=commander,
                                             starts_at=BLOCKED_AT, ends_at=BLOCKED_AT + timedelta(hours=1),
                                             incident=declare("P1", commander))  # fmt: skip
        with pytest.raises(ForbiddenError):
            freeze_exception_decide(exception=exception, approve=True, actor=commander)


class TestPassesAreListed:
    def test_a_deployment_through_a_blocked_freeze_is_kept_and_listed_on_the_freezes_page(
        self, client, api, admin, commander
    ):
        with pytest.raises(DeploymentFrozenError) as refused:
            deployment_record(service=api, environment="production", version="v2", commit="abcdef1", who="ci",
                              actor=admin, change="CHG-8", override_reason="hotfix", now=BLOCKED_AT)  # fmt: skip
        assert refused.value.extra["freeze"]["rule"].startswith("Blocked:")
        incident = declare("P1", admin)
        approved_exception("CHG-8", BLOCKED_AT, requester=admin, approver=commander, incident=incident)

        deployment, _ = deployment_record(service=api, environment="production", version="v2", commit="abcdef1",
                                          who="ci", actor=admin, change="CHG-8", override_reason="hotfix",
                                          now=BLOCKED_AT)  # fmt: skip

        assert (deployment.freeze_level, deployment.freeze_pass) == ("blocked", "approved-emergency")
        listed = FreezePass.objects.get()
        assert (listed.subject, listed.level, listed.incident, listed.approved_by) == (
            "deployment",
            "blocked",
            incident,
            commander,
        )
        assert listed.link == reverse("deployment-detail", args=[deployment.pk])
        client.force_login(admin)
        page = client.get(reverse("freeze-calendar")).content.decode()
        assert f'id="freeze-pass-{listed.pk}"' in page
        assert "API v2 (CHG-8)" in page
        api_list = client.get(reverse("api:freeze-pass-list"), {"level": "blocked"}).json()
        assert [row["id"] for row in api_list["results"]] == [listed.pk]
        assert Deployment.objects.count() == 1

    def test_maintenance_starting_in_a_freeze_needs_what_the_level_asks(self, one_off, admin, commander):
        start = datetime(2026, 11, 27, 2, tzinfo=UTC)
        occurrence = one_off(start=start).occurrences.get()
        occurrence = occurrence_transition(occurrence=occurrence, to_status=S.NOTIFIED, actor=commander, now=start)
        incident = declare("P2", commander)

        with pytest.raises(ConflictError) as refused:
            occurrence_transition(occurrence=occurrence, to_status=S.IN_PROGRESS, actor=commander, now=start,
                                  incident=incident, override_reason="done by hand")  # fmt: skip
        assert refused.value.field == "incident"
        assert policy.occurrence_change(occurrence) in refused.value.message
        approved_exception(policy.occurrence_change(occurrence), start, requester=commander, approver=admin,
                           incident=incident)  # fmt: skip

        started = occurrence_transition(occurrence=occurrence, to_status=S.IN_PROGRESS, actor=commander, now=start,
                                        incident=incident, override_reason="done by hand")  # fmt: skip

        assert started.status == S.IN_PROGRESS
        listed = FreezePass.objects.get()
        assert (listed.subject, listed.passed_by, listed.approved_by) == ("maintenance", "approved-emergency", admin)


def test_emergency_maintenance_in_a_blocked_freeze_is_announced_and_waits_for_the_second_person(
    admin, commander, api, time_machine
):
    from maintenance.services import window_create_emergency

    time_machine.move_to(BLOCKED_AT, tick=False)
    incident = declare("P1", commander)

    occurrence = window_create_emergency(name="DB failover", actor=commander, duration=timedelta(hours=1),
                                         services=[api], incident=incident, now=BLOCKED_AT)  # fmt: skip

    assert occurrence.status == S.NOTIFIED  # stakeholders told; the start waits
    assert "Not started: " in occurrence.history.filter(kind="transition").last().message
    approved_exception(policy.occurrence_change(occurrence), BLOCKED_AT, requester=commander, approver=admin,
                       incident=incident)  # fmt: skip
    started = occurrence_transition(occurrence=occurrence, to_status=S.IN_PROGRESS, actor=commander,
                                    incident=incident, override_reason="emergency", now=BLOCKED_AT)  # fmt: skip
    assert started.status == S.IN_PROGRESS
