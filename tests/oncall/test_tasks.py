"""The beat sweep: handoff records with checklists, shift reminders and lead notices, each exactly once."""

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection

from incidents.models import Incident, Service, Severity
from incidents.services import incident_declare, incident_transition
from oncall.models import Handoff, HandoffItem, Layer, ShiftReminder
from oncall.services import INCOMING_CHECKLIST, OUTGOING_CHECKLIST, handoff_item_set, oncall_sweep, override_create
from oncall.tasks import sweep_oncall
from portal.accounts.roles import Role
from portal.notifications.models import EventKind, Notification
from tests.oncall.conftest import utc

HANDOFF = utc(2026, 1, 12, 9)  # ann hands over to ben


def messages(event: EventKind, user) -> list[str]:
    return list(Notification.objects.filter(event_kind=event, recipients=user).values_list("title", flat=True))


class TestHandoffs:
    def test_the_handoff_opens_at_the_boundary_with_the_seeds_checklists_and_open_incidents(
        self, rotation, ann, ben, admin_user
    ):
        api = Service.objects.create(name="API", slug="api")
        rotation.services.set([api])
        p2 = Severity.objects.get(code="P2")
        open_one = incident_declare(title="Checkout errors", severity=p2, reporter=admin_user, services=[api],
                                    detected_at=utc(2026, 1, 11), now=utc(2026, 1, 11))  # fmt: skip
        other = Service.objects.create(name="Search", slug="search")
        incident_declare(title="Search slow", severity=p2, reporter=admin_user, services=[other],
                         detected_at=utc(2026, 1, 11), now=utc(2026, 1, 11))  # fmt: skip
        resolved = incident_declare(title="Old", severity=p2, reporter=admin_user, services=[api],
                                    detected_at=utc(2026, 1, 10), now=utc(2026, 1, 10))  # fmt: skip
        incident_transition(incident=resolved, to_status=Incident.Status.RESOLVED, confirm=True, actor=admin_user)

        assert oncall_sweep(now=HANDOFF - timedelta(minutes=1)).handoffs == 0
        assert not Handoff.objects.filter(at=HANDOFF).exists()
        assert oncall_sweep(now=HANDOFF + timedelta(seconds=30)).handoffs == 1

        handoff = Handoff.objects.get(rotation=rotation, at=HANDOFF)
        assert (handoff.outgoing, handoff.incoming) == (ann, ben)
        outgoing = list(handoff.items.filter(side=HandoffItem.Side.OUTGOING).values_list("text", flat=True))
        incoming = list(handoff.items.filter(side=HandoffItem.Side.INCOMING).values_list("text", flat=True))
        assert outgoing[: len(OUTGOING_CHECKLIST)] == list(OUTGOING_CHECKLIST)
        handover = outgoing[len(OUTGOING_CHECKLIST) :]
        assert handover[0] == f"Hand over {open_one.reference} [P2] Checkout errors (Detection & triage)"
        # the coming week's maintenance, from the seeded windows' rules (standard updates: Tuesdays 02:00 UTC)
        assert [text for text in handover[1:] if "Standard updates" in text] == [
            "Upcoming: Maintenance: Standard updates at Tue 13 Jan 02:00 UTC"
        ]
        assert handoff.items.get(incident=open_one).side == HandoffItem.Side.OUTGOING
        assert not [text for text in handover if text.startswith("In force:")]  # nothing frozen in mid-January
        assert incoming == list(INCOMING_CHECKLIST)
        assert messages(EventKind.ONCALL_HANDOFF, ann) == ["Hand Checkout on-call over to ben: your checklist"]

        assert oncall_sweep(now=HANDOFF + timedelta(minutes=1)).handoffs == 0
        assert Handoff.objects.filter(rotation=rotation).count() == 1  # the first, a week back, is out of the lookback

    def test_a_handoff_lists_the_freeze_in_force_and_the_deployments_planned_that_week(self, rotation):
        from operations.models import Deployment

        api = Service.objects.create(name="API", slug="api")
        Deployment.objects.create(service=api, environment="production", version="v5", commit="abcdef1", who="ci",
                                  status="planned", started_at=utc(2026, 12, 3, 14))  # fmt: skip
        at = utc(2026, 11, 30, 9)  # Cyber Monday: the Black Friday freeze began on Tuesday the 24th

        oncall_sweep(now=at + timedelta(seconds=30))

        texts = list(Handoff.objects.get(at=at).items.values_list("text", flat=True))
        assert "In force: Freeze (blocked): Black Friday / Cyber Monday 2026 until Wed 02 Dec 00:00 UTC" in texts
        assert "Upcoming: Deployment planned: API v5 to production at Thu 03 Dec 14:00 UTC" in texts

    def test_the_first_handoff_is_from_nobody_with_only_the_incoming_checklist(self, rotation, ann):
        oncall_sweep(now=utc(2026, 1, 5, 9, 1))
        handoff = Handoff.objects.get(rotation=rotation)
        assert (handoff.at, handoff.outgoing, handoff.incoming) == (utc(2026, 1, 5, 9), None, ann)
        assert set(handoff.items.values_list("side", flat=True)) == {HandoffItem.Side.INCOMING}

    def test_an_override_over_the_boundary_moves_the_handoff_to_the_people_really_changing(
        self, rotation, ann, make_user, admin_user
    ):
        dan = make_user(Role.RESPONDER, username="dan")  # not on the rotation: cat is the secondary from 09:00
        override_create(rotation=rotation, layer=Layer.PRIMARY, user=dan, start=utc(2026, 1, 12, 6),
                        end=utc(2026, 1, 12, 12), actor=admin_user, now=utc(2026, 1, 10))  # fmt: skip
        oncall_sweep(now=utc(2026, 1, 12, 12, 1))
        assert list(Handoff.objects.filter(at__gte=utc(2026, 1, 12)).values_list("at", "outgoing__username",
                                                                                  "incoming__username")) == [
            (utc(2026, 1, 12, 12), "dan", "ben"),
            (utc(2026, 1, 12, 6), "ann", "dan"),
        ]  # fmt: skip

    def test_the_lead_hears_of_an_unacknowledged_handoff_after_an_hour_once(self, make_rotation, lead, ann, ben):
        rotation = make_rotation(lead=lead)
        oncall_sweep(now=HANDOFF)
        assert oncall_sweep(now=HANDOFF + timedelta(minutes=59)).lead_notices == 0
        assert oncall_sweep(now=HANDOFF + timedelta(hours=1)).lead_notices == 1
        assert oncall_sweep(now=HANDOFF + timedelta(hours=2)).lead_notices == 0
        assert messages(EventKind.ONCALL_HANDOFF, lead) == ["Checkout on-call handoff not acknowledged after an hour"]
        assert Handoff.objects.get(rotation=rotation, at=HANDOFF).lead_notified_at == HANDOFF + timedelta(hours=1)

    def test_an_acknowledged_handoff_does_not_bother_the_lead(self, make_rotation, lead, ann, ben):
        rotation = make_rotation(lead=lead)
        oncall_sweep(now=HANDOFF)
        handoff = Handoff.objects.get(rotation=rotation, at=HANDOFF)
        for item in handoff.items.all():
            handoff_item_set(item=item, actor=ann if item.side == "outgoing" else ben, done=True, now=HANDOFF)
        oncall_sweep(now=HANDOFF + timedelta(hours=1))
        assert messages(EventKind.ONCALL_HANDOFF, lead) == []


class TestReminders:
    def test_72_and_24_hours_ahead_and_at_the_start_each_exactly_once(self, rotation, ben):
        for hours in (-80, -72, -71, -30, -24, -23, -1, 0, 0.5, 2):
            oncall_sweep(now=HANDOFF + timedelta(hours=hours))
            oncall_sweep(now=HANDOFF + timedelta(hours=hours))  # a second beat at the same moment adds nothing
        sent = ShiftReminder.objects.filter(user=ben, layer=Layer.PRIMARY, shift_start=HANDOFF)
        assert sorted(sent.values_list("kind", flat=True)) == ["24h", "72h", "start"]
        assert messages(EventKind.ONCALL_REMINDER, ben).count("On call in 3 days: Checkout on-call (primary)") == 1
        assert messages(EventKind.ONCALL_REMINDER, ben).count("On call in 24 hours: Checkout on-call (primary)") == 1
        started = [m for m in messages(EventKind.ONCALL_REMINDER, ben) if m.startswith("You are now on call")]
        assert started == ["You are now on call: Checkout on-call (primary) until Mon 19 Jan 09:00 UTC"]

    def test_a_shift_first_seen_ten_hours_ahead_gets_the_24_hour_reminder_only(self, rotation, ben):
        oncall_sweep(now=HANDOFF - timedelta(hours=10))
        oncall_sweep(now=HANDOFF + timedelta(minutes=1))
        kinds = ShiftReminder.objects.filter(user=ben, shift_start=HANDOFF, layer=Layer.PRIMARY)
        assert sorted(kinds.values_list("kind", flat=True)) == ["24h", "start"]

    def test_the_secondary_is_reminded_too(self, rotation, cat):
        oncall_sweep(now=HANDOFF - timedelta(hours=30))
        assert ShiftReminder.objects.filter(user=cat, layer=Layer.SECONDARY, shift_start=HANDOFF, kind="72h").exists()

    def test_a_start_long_past_is_not_announced_late(self, rotation, ben):
        oncall_sweep(now=HANDOFF + timedelta(hours=3))
        assert not ShiftReminder.objects.filter(user=ben, shift_start=HANDOFF).exists()


def test_the_task_runs_the_sweep_and_beat_schedules_it_every_minute(db):
    assert sweep_oncall() == {"handoffs": 0, "reminders": 0, "lead_notices": 0, "auto_ticked": 0}
    assert settings.CELERY_BEAT_SCHEDULE["sweep-oncall"] == {"task": "oncall.tasks.sweep_oncall", "schedule": 60.0}


@pytest.fixture
def committed(django_db_serialized_rollback, transactional_db):
    """Real commits, so concurrent sweeps in other threads see the rows; serialized rollback puts the migrations'
    data (role groups, content types) back after the flush."""
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"


@pytest.mark.integration
def test_concurrent_sweeps_open_each_handoff_and_send_each_reminder_once(committed, make_rotation, lead, ben):
    make_rotation(lead=lead)
    moments = [HANDOFF + timedelta(seconds=n) for n in range(4)]
    barrier = threading.Barrier(len(moments))
    errors: list[BaseException] = []

    def sweep(now):
        try:
            barrier.wait()
            oncall_sweep(now=now)
        except BaseException as exc:  # a thread's failure must fail the test, not vanish with the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep, args=(now,)) for now in moments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Handoff.objects.filter(at=HANDOFF).count() == 1
    assert ShiftReminder.objects.filter(user=ben, shift_start=HANDOFF, kind="start").count() == 1
    assert len(messages(EventKind.ONCALL_REMINDER, ben)) == 1
