from datetime import UTC, datetime, timedelta

import pytest
from auditlog.models import LogEntry

from incidents.models import Incident, Severity, StatusUpdate, TimelineEvent, TimerReminder
from incidents.services import (
    action_item_add,
    incident_acknowledge,
    incident_add_note,
    incident_assign,
    incident_change_severity,
    incident_declare,
    incident_flag,
    incident_post_update,
    incident_sweep_timers,
    incident_transition,
    review_for,
    review_publish,
    review_update,
    status_update_text,
)
from portal.accounts.roles import Role
from portal.errors import ApplicationError, ConflictError
from portal.notifications.models import Delivery, EventKind, Notification
from tests.incidents.conftest import T0

S = Incident.Status


def kinds(incident: Incident) -> list[str]:
    return list(incident.timeline.values_list("kind", flat=True))


class TestSeverities:
    def test_seeded_from_the_operations_manual(self, severities):
        targets = {code: (s.resolution_minutes, s.update_minutes) for code, s in severities.items()}
        assert targets == {"P1": (60, 15), "P2": (240, 30), "P3": (1440, 120), "P4": (7 * 1440, None)}
        assert [code for code, s in severities.items() if s.review_required] == ["P1", "P2"]

    def test_acknowledge_targets_follow_the_on_call_response_policy(self, severities):
        policy = {
            code: (s.response_minutes, s.after_hours_response_minutes, s.after_hours_response_business_days)
            for code, s in severities.items()
        }
        assert policy == {"P1": (5, 15, None), "P2": (5, 15, None), "P3": (60, None, 1), "P4": (60, None, 1)}


class TestDeclare:
    def test_sets_timers_from_the_severity(self, declare):
        incident = declare("P1")
        assert incident.ack_due_at == T0 + timedelta(minutes=5)
        assert incident.update_due_at == T0 + timedelta(minutes=15)
        assert incident.resolution_due_at == T0 + timedelta(hours=1)
        assert kinds(incident) == ["declared"]

    def test_p4_in_business_hours_is_due_within_the_hour(self, declare):
        friday_afternoon = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # the day after Thanksgiving is a Friday
        incident = declare("P4", at=friday_afternoon)
        assert incident.ack_due_at == friday_afternoon + timedelta(hours=1)
        assert incident.update_due_at is None  # "as needed"
        assert incident.resolution_due_at == friday_afternoon + timedelta(weeks=1)

    def test_p4_after_hours_is_due_the_next_business_day(self, declare):
        saturday = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
        assert declare("P4", at=saturday).ack_due_at == datetime(2026, 11, 30, 18, 0, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("at", "minutes"),
        [
            (datetime(2026, 11, 24, 10, 0, tzinfo=UTC), 5),  # Tuesday morning
            (datetime(2026, 11, 24, 17, 59, tzinfo=UTC), 5),
            (datetime(2026, 11, 24, 18, 0, tzinfo=UTC), 15),  # closing time: after hours
            (datetime(2026, 11, 28, 10, 0, tzinfo=UTC), 15),  # Saturday
        ],
    )
    def test_p1_acknowledge_is_5_min_in_business_hours_and_15_after(self, declare, at, minutes):
        assert declare("P1", at=at).ack_due_at == at + timedelta(minutes=minutes)

    def test_p4_on_thanksgiving_counts_from_the_last_close(self, declare):
        thanksgiving = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
        assert declare("P4", at=thanksgiving).ack_due_at == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)

    def test_notifies_the_commander_and_subscribers(self, declare, commander):
        incident = declare("P2", commander=commander)
        notification = Notification.objects.get(event_kind=EventKind.INCIDENT_OPENED)
        assert notification.source == f"incident:{incident.pk}"
        assert notification.severity == "critical"
        assert list(notification.recipients.all()) == [commander]
        assert Delivery.objects.filter(notification=notification, user=commander).exists()

    def test_an_escalation_flag_raises_to_p1(self, declare):
        incident = declare("P3", flags=[Incident.Flag.PAYMENT_FAILURE])
        assert incident.severity.code == "P1"
        assert incident.flags == ["payment_failure"]

    @pytest.mark.parametrize(
        ("fields", "field"),
        [({"title": "  "}, "title"), ({"flags": ["gremlins"]}, "flags")],
    )
    def test_bad_input_names_the_field(self, declare, fields, field):
        with pytest.raises(ApplicationError) as excinfo:
            declare("P2", **fields)
        assert excinfo.value.field == field
        assert not Incident.objects.exists()

    def test_detection_in_the_future_is_refused(self, severities, responder):
        with pytest.raises(ApplicationError, match="future"):
            incident_declare(
                title="x", severity=severities["P2"], reporter=responder, detected_at=T0, now=T0 - timedelta(1)
            )


class TestLifecycle:
    def walk(self, incident, commander, *statuses, start=T0):
        """A minute a step; resolving a P1/P2 that soon is confirmed (test_process_rules covers the confirmation)."""
        for minutes, status in enumerate(statuses, start=1):
            at = start + timedelta(minutes=minutes)
            incident = incident_transition(incident=incident, to_status=status, actor=commander,
                                           confirm=status == S.RESOLVED, now=at)  # fmt: skip
        return incident

    def test_the_seeds_phases_in_order_with_timestamps(self, declare, commander):
        incident = self.walk(declare("P3"), commander, S.INVESTIGATING, S.IDENTIFIED, S.MITIGATING, S.MONITORING,
                             S.RESOLVED, S.CLOSED)  # fmt: skip
        assert incident.status == S.CLOSED
        assert incident.acknowledged_at == T0 + timedelta(minutes=1)
        assert incident.mitigated_at == T0 + timedelta(minutes=4)
        assert incident.resolved_at == T0 + timedelta(minutes=5)
        assert incident.closed_at == T0 + timedelta(minutes=6)
        assert kinds(incident).count("transition") == 6
        assert incident.commander == commander  # the first to act takes command

    def test_an_invalid_transition_names_the_allowed_ones(self, declare, commander):
        with pytest.raises(ApplicationError) as excinfo:
            incident_transition(incident=declare(), to_status=S.MONITORING, actor=commander)
        assert excinfo.value.field == "to_status"
        assert excinfo.value.extra["allowed"] == ["investigating", "resolved"]
        assert "Allowed next: Investigating, Resolved" in excinfo.value.message

    def test_p1_and_p2_close_only_after_the_review_is_published(self, declare, commander):
        incident = self.walk(declare("P2"), commander, S.INVESTIGATING, S.RESOLVED, S.REVIEW)
        with pytest.raises(ApplicationError, match="close only once their review is published"):
            incident_transition(incident=incident, to_status=S.CLOSED, actor=commander)

        review = review_for(incident=incident)
        review_update(review=review, actor=commander, summary="Bad deploy", root_cause="Config typo")
        review_publish(review=review, actor=commander)
        incident = incident_transition(incident=incident, to_status=S.CLOSED, actor=commander)
        assert incident.status == S.CLOSED

    def test_reopen_from_resolved_restarts_the_clock(self, declare, commander):
        incident = self.walk(declare("P3"), commander, S.INVESTIGATING, S.RESOLVED)
        assert incident.resolution_due_at is None
        incident = incident_transition(
            incident=incident,
            to_status=S.INVESTIGATING,
            actor=commander,
            note="errors back",
            now=T0 + timedelta(hours=1),
        )
        assert incident.resolved_at is None
        assert incident.resolution_due_at is not None
        assert incident.timeline.last().message == "Re-opened: errors back"

    def test_resolving_resolves_the_page(self, declare, commander):
        incident = self.walk(declare("P1"), commander, S.INVESTIGATING, S.RESOLVED)
        resolved = Notification.objects.get(event_kind=EventKind.INCIDENT_RESOLVED)
        assert (resolved.pager_action, resolved.dedup_key) == ("resolve", f"incident:{incident.pk}")

    def test_a_stale_version_is_a_conflict_not_a_silent_overwrite(self, declare, commander, make_user):
        incident = declare()
        other = make_user(role=None)
        seen = incident.version
        incident_transition(incident=incident, to_status=S.INVESTIGATING, actor=commander, version=seen)
        with pytest.raises(ConflictError, match="changed since you loaded it") as excinfo:
            incident_change_severity(
                incident=incident, severity=incident.severity, actor=other, reason="x", version=seen
            )
        assert excinfo.value.extra == {"current_version": seen + 1}
        # Says who changed what, so the refused person knows whether their change still applies.
        assert f"{commander}, " in excinfo.value.message
        assert "status change: Detection & triage → Investigating" in excinfo.value.message

    def test_transitions_are_audited_with_the_actor(self, declare, commander):
        from auditlog.context import set_actor

        incident = declare()
        with set_actor(commander):
            incident_transition(incident=incident, to_status=S.INVESTIGATING, actor=commander)
        entry = LogEntry.objects.get_for_object(incident).latest("pk")
        assert entry.actor == commander
        assert entry.changes_dict["status"] == ["triage", "investigating"]


class TestSeverityAndFlags:
    def test_severity_change_is_its_own_event_and_retimes(self, declare, commander, severities):
        incident = declare("P3")
        incident = incident_change_severity(incident=incident, severity=severities["P1"], actor=commander,
                                            reason="payments failing", now=T0 + timedelta(minutes=3))  # fmt: skip
        assert incident.resolution_due_at == T0 + timedelta(hours=1)
        event = incident.timeline.get(kind=TimelineEvent.Kind.SEVERITY)
        assert event.message == "P3 → P1: payments failing"
        assert event.actor == commander

    def test_severity_change_needs_a_reason(self, declare, commander, severities):
        with pytest.raises(ApplicationError) as excinfo:
            incident_change_severity(incident=declare(), severity=severities["P1"], actor=commander, reason=" ")
        assert excinfo.value.field == "reason"

    def test_flagging_raises_to_p1_once(self, declare, commander):
        incident = incident_flag(incident=declare("P3"), flag=Incident.Flag.ACTIVE_ATTACK, actor=commander)
        assert incident.severity.code == "P1"
        with pytest.raises(ConflictError):
            incident_flag(incident=incident, flag=Incident.Flag.ACTIVE_ATTACK, actor=commander)

    def test_assign_needs_a_responder(self, declare, commander, make_user):
        with pytest.raises(ApplicationError) as excinfo:
            incident_assign(incident=declare(), commander=make_user(role=None), actor=commander)
        assert excinfo.value.field == "commander"
        incident = incident_assign(incident=declare(), commander=commander, actor=commander)
        assert incident.commander == commander


class TestStatusUpdates:
    def test_posting_resets_the_update_timer_and_fills_the_template(self, declare, responder):
        incident = declare("P2", impact_summary="5% of checkouts fail")
        later = T0 + timedelta(minutes=20)
        update = incident_post_update(incident=incident, label=StatusUpdate.Label.IDENTIFIED,
                                      description="A bad config push.", actor=responder, now=later)  # fmt: skip
        incident.refresh_from_db()
        assert incident.update_due_at == later + timedelta(minutes=30)
        assert status_update_text(update) == (
            "[Status: Identified]\n\nA bad config push.\n\nAffected services: API\nImpact: 5% of checkouts fail\n\n"
            "We will provide updates every 30 minutes."
        )

    def test_the_update_timer_keeps_a_sooner_promise_and_refuses_a_later_one(self, declare, responder, commander):
        incident = declare("P2")
        later = T0 + timedelta(minutes=20)
        update = incident_post_update(incident=incident, label="identified", description="A bad config push.",
                                      next_update_minutes=10, actor=responder, now=later)  # fmt: skip
        incident.refresh_from_db()
        assert "We will provide updates every 10 minutes." in status_update_text(update)
        assert incident.update_due_at == later + timedelta(minutes=10)  # not the P2's 30

        p1 = Severity.objects.get(code="P1")
        incident = incident_change_severity(incident=incident, severity=p1, reason="All shops", actor=commander,
                                            now=later)  # fmt: skip
        assert incident.update_due_at == later + timedelta(minutes=10)  # P1's 15 is not sooner

        with pytest.raises(ApplicationError) as excinfo:
            incident_post_update(incident=incident, label="identified", description="Still the config.",
                                 next_update_minutes=60, actor=responder, now=later)  # fmt: skip
        assert excinfo.value.field == "next_update_minutes"
        assert "a P1 is updated at least every 15 minutes" in excinfo.value.message

        incident_post_update(incident=incident, label="identified", description="Rolling back.", actor=responder,
                             now=later + timedelta(minutes=5))  # fmt: skip
        incident.refresh_from_db()
        assert incident.update_due_at == later + timedelta(minutes=20)  # no promise: the P1's 15

    def test_a_p4_is_updated_as_promised(self, declare, responder):
        incident = declare("P4")
        assert incident.update_due_at is None  # "as needed"
        incident_post_update(incident=incident, label="identified", description="A typo.", next_update_minutes=240,
                             actor=responder, now=T0)  # fmt: skip
        incident.refresh_from_db()
        assert incident.update_due_at == T0 + timedelta(minutes=240)

    def test_public_updates_notify_subscribers_internal_ones_do_not(self, declare, responder):
        internal = declare("P3")
        incident_post_update(incident=internal, label="investigating", description="Looking.", actor=responder)
        public = declare("P3", is_public=True)
        incident_post_update(incident=public, label="investigating", description="Looking.", actor=responder)
        incident_post_update(incident=public, label="investigating", description="Looking.", actor=responder,
                             is_public=True)  # fmt: skip
        updated = Notification.objects.filter(event_kind=EventKind.INCIDENT_UPDATED)
        assert [n.source for n in updated] == [f"incident:{public.pk}"]
        assert "[Status: Investigating]" in updated.get().summary

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"label": "panicking"}, "label"),
            ({"description": ""}, "description"),
            ({"next_update_minutes": 0}, "next_update_minutes"),
        ],
    )
    def test_bad_updates_name_the_field(self, declare, responder, fields, field):
        payload = {"label": "investigating", "description": "x"} | fields
        with pytest.raises(ApplicationError) as excinfo:
            incident_post_update(incident=declare(), actor=responder, **payload)
        assert excinfo.value.field == field

    def test_notes_join_the_timeline(self, declare, responder):
        incident = declare()
        incident_add_note(
            incident=incident,
            text="Error rate spiked after 10:02 deploy",
            actor=responder,
            now=T0 + timedelta(minutes=1),
        )
        assert kinds(incident) == ["declared", "note"]


class TestTimers:
    def test_each_missed_deadline_reminds_once(self, declare, commander):
        incident = declare("P1", commander=commander)
        assert incident_sweep_timers(now=T0 + timedelta(minutes=4)) == 0
        assert incident_sweep_timers(now=T0 + timedelta(minutes=6)) == 1  # acknowledge overdue
        assert incident_sweep_timers(now=T0 + timedelta(minutes=7)) == 0  # same deadline: no second reminder
        assert incident_sweep_timers(now=T0 + timedelta(minutes=16)) == 1  # the first update is overdue
        reminders = Notification.objects.filter(event_kind=EventKind.REMINDER)
        assert reminders.count() == 2
        assert all(list(n.recipients.all()) == [commander] for n in reminders)
        assert TimerReminder.objects.filter(incident=incident).count() == 2

    def test_a_new_update_is_a_new_deadline(self, declare, commander):
        incident = declare("P1", commander=commander)
        incident_acknowledge(incident=incident, actor=commander, now=T0 + timedelta(minutes=1))
        incident_sweep_timers(now=T0 + timedelta(minutes=17))
        incident_post_update(incident=incident, label="investigating", description="x", actor=commander,
                             now=T0 + timedelta(minutes=18))  # fmt: skip
        assert incident_sweep_timers(now=T0 + timedelta(minutes=34)) == 1

    def test_resolved_incidents_are_left_alone(self, declare, commander):
        incident = declare("P3")
        incident_transition(incident=incident, to_status=S.RESOLVED, confirm=True, actor=commander, now=T0)
        # Only its review is reminded of (test_process_rules.py), not its timers.
        assert incident_sweep_timers(now=T0 + timedelta(days=3)) == 1
        assert list(incident.reminders.values_list("timer", flat=True)) == ["review"]

    def test_p1_p2_without_root_cause_after_15_minutes_is_flagged(self, declare, commander):
        incident = declare("P2")
        incident_sweep_timers(now=T0 + timedelta(minutes=14))
        incident.refresh_from_db()
        assert incident.flags == []
        incident_sweep_timers(now=T0 + timedelta(minutes=15))
        incident.refresh_from_db()
        assert incident.flags == ["root_cause_unknown"]
        assert incident.severity.code == "P1"


class TestReview:
    def test_publishing_freezes_the_review_with_a_timeline_snapshot(self, declare, commander, make_user, time_machine):
        time_machine.move_to(T0 + timedelta(minutes=40))  # resolved then; the action item's due date counts from it
        incident = declare("P1")
        incident = incident_transition(
            incident=incident, to_status=S.RESOLVED, confirm=True, actor=commander, now=T0 + timedelta(minutes=40)
        )
        review = review_for(incident=incident)
        assert review.scheduled_for == T0 + timedelta(minutes=40, hours=24)
        item = action_item_add(review=review, title="Add config validation", owner=make_user(Role.RESPONDER),
                               due_date=T0.date() + timedelta(days=14), actor=commander)  # fmt: skip
        with pytest.raises(ApplicationError) as excinfo:
            review_publish(review=review, actor=commander)
        assert excinfo.value.field == "summary"

        review_update(review=review, actor=commander, summary="Checkout down 40 min", root_cause="Bad config")
        review = review_publish(review=review, actor=commander)

        assert [event["kind"] for event in review.timeline_snapshot] == ["declared", "transition", "review", "review"]
        with pytest.raises(ConflictError):
            review_update(review=review, actor=commander, summary="rewrite history")
        with pytest.raises(ConflictError):
            action_item_add(review=review, title="late", owner=commander, due_date=T0.date(), actor=commander)
        assert item.status == "open"

    def test_no_review_before_resolution(self, declare):
        with pytest.raises(ApplicationError):
            review_for(incident=declare())
