"""The policy table (role x environment x action), approvals by a second person, and the freeze rule."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident, Severity
from incidents.services import incident_declare, incident_transition
from portal.accounts.roles import Role
from portal.cluster import policy
from portal.cluster.models import ActionKind, ActionRun, Target
from portal.cluster.services import action_run_approve, action_run_execute, action_run_reject, action_run_request
from portal.core.models import Environment
from portal.errors import ConflictError, ForbiddenError
from tests.cluster.conftest import datastore

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PROD, STAGING, DEV = Environment.PRODUCTION, Environment.STAGING, Environment.DEVELOPMENT
READ_ONLY = {ActionKind.ROLLOUT_STATUS, ActionKind.ROLLOUT_HISTORY}

# (role, environment) -> (may run read-only actions, may run changes). Written out, not derived from the code.
MAY_RUN = {
    (Role.VIEWER, PROD): (False, False),
    (Role.VIEWER, STAGING): (False, False),
    (Role.VIEWER, DEV): (False, False),
    (Role.RESPONDER, PROD): (True, False),
    (Role.RESPONDER, STAGING): (True, True),
    (Role.RESPONDER, DEV): (True, True),
    (Role.INCIDENT_COMMANDER, PROD): (True, True),
    (Role.INCIDENT_COMMANDER, STAGING): (True, True),
    (Role.INCIDENT_COMMANDER, DEV): (True, True),
    (Role.ADMIN, PROD): (True, True),
    (Role.ADMIN, STAGING): (True, True),
    (Role.ADMIN, DEV): (True, True),
}
NEEDS_SECOND_PERSON = {
    (PROD, ActionKind.DRAIN),
    (PROD, ActionKind.REDIS_FLUSH),
    (PROD, ActionKind.PG_TERMINATE_IDLE),
    (PROD, ActionKind.PG_TERMINATE_BACKEND),
    (PROD, ActionKind.SECRET_SET),
}


@pytest.mark.parametrize("kind", list(ActionKind))
@pytest.mark.parametrize("environment", [PROD, STAGING, DEV])
@pytest.mark.parametrize("role", list(Role))
def test_policy_table(make_user, role, environment, kind):
    user = make_user(role)
    may_read, may_change = MAY_RUN[(role, environment)]

    allowed = policy.role_refusal(user, kind, environment) is None

    assert allowed == (may_read if kind in READ_ONLY else may_change)
    assert policy.needs_approval(kind, environment) == ((environment, kind) in NEEDS_SECOND_PERSON)


def test_a_user_without_a_role_may_run_nothing(make_user):
    assert policy.role_refusal(make_user(None), ActionKind.ROLLOUT_HISTORY, DEV) == (
        "Rollout history in development needs the Responder role."
    )


@pytest.mark.parametrize("kind", list(ActionKind))
@pytest.mark.parametrize("environment", [PROD, STAGING, DEV])
@pytest.mark.parametrize("role", list(Role))
def test_a_responder_asks_for_what_they_may_not_run(make_user, role, environment, kind):
    """Who may request (not run) an action: whoever may run it, and a Responder, whose request an Incident Commander
    approves. A Viewer may request nothing."""
    user = make_user(role)
    may_read, may_change = MAY_RUN[(role, environment)]
    may_run = may_read if kind in READ_ONLY else may_change

    asks = policy.asks_approval(user, kind, environment)

    assert asks == (role == Role.RESPONDER and not may_run)
    assert (policy.request_role_refusal(user, kind, environment) is None) == (role != Role.VIEWER)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("environment", [PROD, STAGING, DEV])
def test_requests_go_through_the_same_policy(make_user, role, environment):
    """Through the service: refused with a 403 naming the role, or recorded (awaiting approval in production, a
    Responder's request included)."""
    target = datastore(Target.Kind.REDIS, "redis://127.0.0.1:6379/13", environment)
    user = make_user(role)
    may_change = MAY_RUN[(role, environment)][1] or role == Role.RESPONDER

    if not may_change:
        with pytest.raises(ForbiddenError, match="needs the") as refused:
            action_run_request(requester=user, target=target, kind="redis_flush", parameters={}, reason="r",
                               confirm=True)  # fmt: skip
        assert refused.value.status_code == 403
        assert not ActionRun.objects.exists()
        return
    run = action_run_request(requester=user, target=target, kind="redis_flush", parameters={}, reason="r", confirm=True)
    expected = ActionRun.Status.AWAITING_APPROVAL if environment == PROD else ActionRun.Status.QUEUED
    assert run.status == expected


@pytest.fixture
def flush(people, time_machine):
    """A production FLUSHDB Cora requested at NOW, the clock the worker reads too: it needs a second person."""
    time_machine.move_to(NOW, tick=False)
    target = datastore(Target.Kind.REDIS, "redis://127.0.0.1:6379/13", PROD)
    return action_run_request(
        requester=people.commander, target=target, kind="redis_flush", parameters={}, reason="stale sessions",
        confirm=True, now=NOW,
    )  # fmt: skip


class TestApproval:
    def test_the_requester_may_not_approve_their_own_run(self, flush, people):
        with pytest.raises(ForbiddenError, match="a second person must approve it") as refused:
            action_run_approve(run=flush, approver=people.commander, now=NOW)

        assert refused.value.status_code == 403
        assert not flush.approvals.exists()
        flush.refresh_from_db()
        assert flush.status == ActionRun.Status.AWAITING_APPROVAL

    def test_nor_reject_it(self, flush, people):
        with pytest.raises(ForbiddenError):
            action_run_reject(run=flush, approver=people.commander, comment="never mind", now=NOW)

    def test_a_responder_may_not_approve_a_production_change(self, flush, people):
        with pytest.raises(ForbiddenError, match="Approving: Redis FLUSHDB in production needs the Incident"):
            action_run_approve(run=flush, approver=people.responder, now=NOW)

    def test_a_second_commander_approves_and_the_run_is_queued(self, flush, people, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks() as callbacks:
            run = action_run_approve(run=flush, approver=people.second_commander, comment="ok", now=NOW)

        assert run.status == ActionRun.Status.QUEUED
        assert len(callbacks) == 1
        assert policy.approval_missing(run) is None

    def test_one_decision_per_person(self, flush, people, make_user):
        other = make_user(Role.INCIDENT_COMMANDER)
        action_run_reject(run=flush, approver=other, comment="not now", now=NOW)

        with pytest.raises(ConflictError, match="not awaiting approval"):
            action_run_approve(run=flush, approver=people.second_commander, now=NOW)
        flush.refresh_from_db()
        assert (flush.status, flush.error) == (ActionRun.Status.REJECTED, f"Rejected by {other.username}: not now")

    def test_the_request_expires(self, flush, people, settings):
        late = NOW + timedelta(seconds=settings.ACTION_APPROVAL_WINDOW_SECONDS)

        with pytest.raises(ForbiddenError, match="expired .* without approval"):
            action_run_approve(run=flush, approver=people.second_commander, now=late)

    def test_the_worker_refuses_when_the_approver_lost_the_role(
        self, flush, people, django_capture_on_commit_callbacks
    ):
        action_run_approve(run=flush, approver=people.second_commander, now=NOW)
        people.second_commander.groups.clear()

        assert action_run_execute(run_id=flush.pk) is None

        flush.refresh_from_db()
        assert flush.status == ActionRun.Status.REJECTED
        assert flush.error == "Refused when starting: It needs the approval of a second person who may run it."


# -- freeze ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Freeze:
    """Shaped like the freeze calendar's FreezeStatus."""

    allowed: bool
    level: str | None = None
    reasons: list[str] = field(default_factory=list)
    until: datetime | None = None


BLACK_FRIDAY = Freeze(
    False, "emergency-only", ["Black Friday / Cyber Monday"], datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
)


def frozen(environment: str, at: datetime) -> Freeze:
    return BLACK_FRIDAY


def not_frozen(environment: str, at: datetime) -> Freeze:
    return Freeze(True)


@pytest.fixture
def severities(db) -> dict[str, Severity]:
    return {severity.code: severity for severity in Severity.objects.all()}


def run_of(kind: str, environment: str = PROD, *, emergency: bool = False, incident: Incident | None = None):
    return ActionRun(kind=kind, environment=environment, emergency=emergency, incident=incident)


class TestFreeze:
    def test_a_production_change_is_refused_with_the_calendars_reasons(self):
        reason = policy.freeze_blocks(run_of("scale"), at=NOW, freeze=frozen)

        assert reason == (
            "Production is frozen (emergency-only) until 2026-12-01 23:59 UTC: Black Friday / Cyber Monday. Only an "
            "emergency change linked to an open P1 or P2 incident may run now; rollbacks and read-only actions "
            "always may."
        )

    @pytest.mark.parametrize("kind", ["rollback", "rollout_status", "rollout_history"])
    def test_rollbacks_and_reads_always_may(self, kind):
        assert policy.freeze_blocks(run_of(kind), at=NOW, freeze=frozen) is None

    def test_other_environments_are_not_held_by_a_production_freeze(self):
        assert policy.freeze_blocks(run_of("restart", STAGING), at=NOW, freeze=frozen) is None

    def test_nothing_is_refused_when_the_calendar_allows(self):
        assert policy.freeze_blocks(run_of("drain"), at=NOW, freeze=not_frozen) is None

    @pytest.mark.parametrize(("code", "emergency", "resolved", "refused"), [
        ("P1", True, False, False),
        ("P2", True, False, False),
        ("P3", True, False, True),
        ("P1", False, False, True),
        ("P1", True, True, True),
    ])  # fmt: skip
    def test_an_emergency_needs_an_open_p1_or_p2_incident(self, severities, people, code, emergency, resolved, refused):
        incident = incident_declare(title="Checkout down", severity=severities[code], reporter=people.commander)
        if resolved:
            incident = incident_transition(
                incident=incident, to_status=Incident.Status.RESOLVED, confirm=True, actor=people.commander
            )
        run = run_of("scale", emergency=emergency, incident=incident)

        assert (policy.freeze_blocks(run, at=NOW, freeze=frozen) is not None) is refused

    def test_an_emergency_that_does_not_qualify_says_why(self, severities, people):
        incident = incident_declare(title="Search stale", severity=severities["P3"], reporter=people.commander)

        reason = policy.freeze_blocks(run_of("scale", emergency=True, incident=incident), at=NOW, freeze=frozen)

        assert reason is not None
        assert reason.endswith(f"{incident.reference} is P3: an emergency change answers a P1 or P2 incident.")

    def test_with_no_freeze_rule_in_force_nothing_is_frozen(self):
        status = policy.current_freeze(PROD, NOW)
        assert status is not None
        assert status.allowed
        assert policy.freeze_blocks(run_of("scale"), at=NOW) is None

    def test_a_request_during_a_freeze_is_refused_before_anything_is_recorded(self, people):
        target = datastore(Target.Kind.POSTGRESQL, "postgres://ops@db.internal/shop", PROD)

        with pytest.raises(ForbiddenError, match="Production is frozen"):
            action_run_request(requester=people.commander, target=target, kind="pg_terminate_idle",
                               parameters={}, reason="pool exhausted", confirm=True, freeze=frozen)  # fmt: skip
        assert not ActionRun.objects.exists()

    def test_the_worker_refuses_a_run_when_a_freeze_began_after_it_was_queued(self, people):
        target = datastore(Target.Kind.REDIS, "redis://127.0.0.1:6379/13", PROD)
        run = action_run_request(requester=people.commander, target=target, kind="redis_delete_pattern",
                                 parameters={"pattern": "session:*"}, reason="r", confirm=True)  # fmt: skip

        assert action_run_execute(run_id=run.pk, freeze=frozen) is None

        run.refresh_from_db()
        assert run.status == ActionRun.Status.REJECTED
        assert run.error.startswith("Refused when starting: Production is frozen (emergency-only)")


def test_the_real_freeze_calendar_refuses_a_production_change(people, db):
    from maintenance.models import FreezeRule

    today = timezone.now().date()
    FreezeRule.objects.create(name="Stabilisation freeze", kind=FreezeRule.Kind.ONE_OFF, level="blocked",
                              environments=["production"], first_day=today, last_day=today)  # fmt: skip
    reason = policy.freeze_blocks(run_of("scale"), at=timezone.now())
    assert reason is not None
    assert "Stabilisation freeze" in reason
    assert policy.freeze_blocks(run_of("rollback"), at=timezone.now()) is None


# -- a Responder's production change: asked for, approved by an Incident Commander -------------------------------


def delete_keys(user, environment: str = PROD, **options) -> ActionRun:
    target = datastore(Target.Kind.REDIS, "redis://127.0.0.1:6379/13", environment, slug=f"cache-{environment}")
    return action_run_request(requester=user, target=target, kind="redis_delete_pattern",
                              parameters={"pattern": "session:*"}, reason="stale sessions", **options)  # fmt: skip


class TestAResponderAsks:
    def test_the_request_awaits_an_incident_commanders_approval_and_tells_the_approvers(self, people):
        from portal.notifications.models import EventKind, Notification

        run = delete_keys(people.responder, confirm=True)

        assert run.status == ActionRun.Status.AWAITING_APPROVAL
        asked = Notification.objects.get(event_kind=EventKind.APPROVAL_REQUESTED)
        assert set(asked.recipients.all()) == {people.commander, people.second_commander, people.admin}
        assert asked.url.endswith(f"/actions/{run.pk}/")

    def test_a_commanders_same_request_needs_nobody(self, people):
        assert delete_keys(people.commander, confirm=True).status == ActionRun.Status.QUEUED

    def test_outside_production_nobody_is_asked(self, people):
        assert delete_keys(people.responder, STAGING, confirm=True).status == ActionRun.Status.QUEUED

    def test_another_responder_may_not_approve_it_a_commander_may(self, people, make_user):
        run = delete_keys(people.responder, confirm=True)

        with pytest.raises(ForbiddenError, match="needs the Incident Commander role"):
            action_run_approve(run=run, approver=make_user(Role.RESPONDER))
        with pytest.raises(ForbiddenError, match="a second person must approve it"):
            action_run_approve(run=run, approver=people.responder)
        assert action_run_approve(run=run, approver=people.commander).status == ActionRun.Status.QUEUED

    def test_the_worker_runs_nothing_unapproved(self, people):
        run = delete_keys(people.responder, confirm=True)

        assert action_run_execute(run_id=run.pk) is None, "a message before approval runs nothing"
        # Queued without an approval (by hand, say): the worker's own check refuses it.
        run.status, run.queued_at = ActionRun.Status.QUEUED, timezone.now()
        run.save()
        assert action_run_execute(run_id=run.pk) is None
        run.refresh_from_db()
        assert run.status == ActionRun.Status.REJECTED
        assert run.error == "Refused when starting: It needs the approval of a second person who may run it."


class TestGuidance:
    """What the request form says before Continue: the same answers the request gets."""

    def draft(self, user, kind: str = "redis_delete_pattern", environment: str = PROD, **fields) -> ActionRun:
        return ActionRun(kind=kind, environment=environment, requested_by=user, **fields)

    def test_a_responder_is_told_to_ask_an_incident_commander(self, people):
        guidance = policy.request_guidance(self.draft(people.responder), at=NOW, freeze=not_frozen)

        assert (guidance.environment, guidance.freeze, guidance.approver, guidance.refusal) == (
            PROD, None, "an Incident Commander", None,
        )  # fmt: skip

    @pytest.mark.parametrize(("kind", "approver"), [("drain", "another Incident Commander"), ("scale", "")])
    def test_a_commander_is_told_when_a_second_one_must_approve(self, people, kind, approver):
        assert policy.request_guidance(self.draft(people.commander, kind), at=NOW, freeze=not_frozen).approver == (
            approver
        )

    def test_a_freeze_is_shown_with_the_refusal_it_would_bring(self, people):
        guidance = policy.request_guidance(self.draft(people.responder, "scale"), at=NOW, freeze=frozen)

        assert guidance.freeze == BLACK_FRIDAY
        assert guidance.refusal is not None
        assert guidance.refusal.field == "emergency"
        assert str(guidance.refusal).startswith("Production is frozen (emergency-only) until 2026-12-01 23:59 UTC")

    def test_an_emergency_for_an_open_p1_gets_through_and_says_so(self, people, severities):
        incident = incident_declare(title="Checkout down", severity=severities["P1"], reporter=people.commander)
        run = self.draft(people.commander, "scale", emergency=True, incident=incident)

        guidance = policy.request_guidance(run, at=NOW, freeze=frozen)

        assert (guidance.freeze, guidance.refusal) == (BLACK_FRIDAY, None)

    def test_a_production_freeze_does_not_hold_staging(self, people):
        guidance = policy.request_guidance(self.draft(people.responder, "scale", STAGING), at=NOW, freeze=frozen)

        assert (guidance.freeze, guidance.approver, guidance.refusal) == (None, "", None)
