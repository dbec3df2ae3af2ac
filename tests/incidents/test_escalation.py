from datetime import timedelta

import pytest
from django.contrib.auth.models import Group

from incidents.escalation import escalation_sweep, incident_escalate
from incidents.models import EscalationLevel, EscalationStep, TimelineEvent
from incidents.services import incident_acknowledge, incident_change_severity, incident_transition
from portal.accounts.roles import Role
from portal.errors import ApplicationError
from portal.notifications.models import EventKind, Notification
from tests.incidents.conftest import T0


@pytest.fixture
def leads(make_user):
    lead = make_user(None, username="paula.lead")
    lead.groups.add(Group.objects.get(name="Platform Leads"))
    manager = make_user(None, username="marc.manager")
    manager.groups.add(Group.objects.get(name="Engineering Managers"))
    return lead, manager


def due(incident) -> dict[tuple[str, int], object]:
    return {(step.kind, step.level): step.due_at for step in incident.escalation_steps.all()}


def pages(incident) -> list[str]:
    return list(incident.timeline.filter(kind=TimelineEvent.Kind.ESCALATION).values_list("message", flat=True))


def test_p1_pages_levels_1_to_3_at_once_and_the_secondary_at_the_ack_deadline(declare):
    incident = declare("P1")
    assert due(incident) == {
        ("level", 1): T0, ("level", 2): T0, ("level", 3): T0, ("level", 4): None,
        ("secondary", 1): T0 + timedelta(minutes=5),
    }  # fmt: skip
    assert incident.escalation_snapshot["policy"] == "Escalation matrix"
    assert [level["name"] for level in incident.escalation_snapshot["levels"]] == [
        "On-call engineer", "Platform lead", "Engineering manager / CTO", "Executives",
    ]  # fmt: skip


def test_p3_escalates_by_time_unresolved_on_its_own_clock(declare):
    # The matrix's 30 min / 1 h, eight times slower for a P3 (test_process_rules.py has every severity).
    incident = declare("P3")
    steps = due(incident)
    assert steps[("level", 2)] == T0 + timedelta(hours=4)
    assert steps[("level", 3)] == T0 + timedelta(hours=8)


def test_sweep_pages_each_due_level_once_to_the_right_people(declare, leads):
    lead, manager = leads
    incident = declare("P3")

    assert escalation_sweep(now=T0 + timedelta(minutes=1)) == 1  # level 1 (nobody on call yet: chat only)
    assert escalation_sweep(now=T0 + timedelta(minutes=61)) == 1  # the unacknowledged secondary, at the 1 h target
    assert escalation_sweep(now=T0 + timedelta(hours=4, minutes=1)) == 1  # level 2 after 4 h (a P3's clock)
    assert escalation_sweep(now=T0 + timedelta(hours=4, minutes=2)) == 0
    assert escalation_sweep(now=T0 + timedelta(hours=8, minutes=1)) == 1  # level 3

    messages = pages(incident)
    assert messages[2] == "Paged L2 Platform lead: paula.lead"
    assert messages[3].startswith("Paged L3 Engineering manager / CTO: marc.manager")
    escalated = Notification.objects.filter(event_kind=EventKind.INCIDENT_ESCALATED)
    assert escalated.count() == 4
    assert [list(n.recipients.all()) for n in escalated if "Platform lead" in n.title] == [[lead]]


def test_editing_the_policy_does_not_change_a_running_escalation(declare, leads, make_user):
    incident = declare("P3")
    level2 = EscalationLevel.objects.get(level=2)
    level2.after_minutes, level2.group = 5, Group.objects.get(name="Executives")
    level2.save()
    assert due(incident)[("level", 2)] == T0 + timedelta(hours=4)
    escalation_sweep(now=T0 + timedelta(hours=4, minutes=1))
    assert "Paged L2 Platform lead: paula.lead" in pages(incident)


def test_acknowledging_stops_the_secondary_page(declare, commander):
    incident = declare("P2")
    incident_acknowledge(incident=incident, actor=commander, now=T0 + timedelta(minutes=2))
    escalation_sweep(now=T0 + timedelta(minutes=10))
    secondary = incident.escalation_steps.get(kind=EscalationStep.Kind.SECONDARY)
    assert secondary.paged_at is None
    assert secondary.cancelled_at == T0 + timedelta(minutes=2)


def test_raising_to_p1_brings_the_levels_forward(declare, commander, severities):
    incident = declare("P3")
    raised_at = T0 + timedelta(minutes=10)
    incident_change_severity(incident=incident, severity=severities["P1"], actor=commander, reason="spreading",
                             now=raised_at)  # fmt: skip
    steps = due(incident)
    assert steps[("level", 2)] == raised_at
    assert steps[("level", 3)] == raised_at


def test_resolved_incidents_are_not_escalated(declare, commander):
    incident = declare("P3")
    incident_transition(
        incident=incident, to_status="resolved", confirm=True, actor=commander, now=T0 + timedelta(minutes=1)
    )
    assert escalation_sweep(now=T0 + timedelta(hours=2)) == 0


def test_commander_escalates_by_hand_to_the_next_level(declare, commander, leads):
    incident = declare("P1")
    escalation_sweep(now=T0)
    step = incident_escalate(incident=incident, actor=commander, reason="Card data may have leaked", now=T0)
    assert step.level == 4
    assert (
        pages(incident)[-1]
        == "Paged L4 Executives: nobody resolvable (chat and pager channels only) (Card data may have leaked)"
    )
    with pytest.raises(ApplicationError, match="Every escalation level"):
        incident_escalate(incident=incident, actor=commander, reason="again", now=T0)


def test_manual_escalation_needs_a_reason(declare, commander):
    with pytest.raises(ApplicationError) as excinfo:
        incident_escalate(incident=declare(), actor=commander, reason=" ")
    assert excinfo.value.field == "reason"


@pytest.fixture
def rotation(api, make_user):
    from datetime import date

    from oncall.services import rotation_create

    ann = make_user(Role.RESPONDER, username="ann.primary")
    ben = make_user(Role.RESPONDER, username="ben.secondary")
    return rotation_create(
        name="API on-call", start_date=date(2026, 11, 1), participants=[ann], secondary_participants=[ben],
        handoff_rrule="FREQ=DAILY", services=[api], actor=None,
    )  # fmt: skip


def test_level_1_pages_the_primary_and_the_secondary_is_paged_when_nobody_acknowledges(rotation, declare):
    incident = declare("P2")
    escalation_sweep(now=T0)
    assert pages(incident)[0] == "Paged L1 On-call engineer: ann.primary"
    escalation_sweep(now=T0 + timedelta(minutes=6))  # P2 acknowledge target in business hours: 5 min
    assert "Paged Secondary on-call: ben.secondary" in pages(incident)


def test_the_acknowledge_target_uses_business_hours_in_the_rotations_timezone(api, make_user, declare):
    from datetime import UTC, date, datetime

    from oncall.services import rotation_create

    rotation_create(name="NY on-call", start_date=date(2026, 11, 1), participants=[make_user(Role.RESPONDER)],
                    timezone="America/New_York", services=[api], actor=None)  # fmt: skip
    early_utc = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # 05:00 in New York: after hours there
    ny_morning = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 in New York
    assert declare("P1", at=early_utc).ack_due_at == early_utc + timedelta(minutes=15)
    assert declare("P1", at=ny_morning).ack_due_at == ny_morning + timedelta(minutes=5)


def test_a_service_with_its_own_policy_uses_it_instead_of_the_default(api, declare, make_user):
    from incidents.models import EscalationPolicy

    payments_lead = make_user(Role.RESPONDER, username="pia.payments")
    own = EscalationPolicy.objects.create(name="Payments escalation")
    level = EscalationLevel.objects.create(policy=own, level=1, name="Payments lead", target="users", after_minutes=5)
    level.users.add(payments_lead)
    api.escalation_policy = own
    api.save()

    incident = declare("P3")
    escalation_sweep(now=T0 + timedelta(minutes=41))  # 5 min on a P3's clock (x8), before the 1 h secondary page

    assert incident.escalation_snapshot["policy"] == "Payments escalation"
    assert pages(incident) == ["Paged L1 Payments lead: pia.payments"]
