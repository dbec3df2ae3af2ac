"""Windows, occurrences, their lifecycle, notices, checklists, overlaps and exceptions, through the services."""

from datetime import UTC, datetime, time, timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from maintenance.models import (
    ChecklistItem,
    FreezeException,
    MaintenanceNotice,
    MaintenanceOccurrence,
    MaintenanceWindow,
    OccurrenceEvent,
)
from maintenance.selectors import calendar_entries, occurrence_conflicts, window_conflicts
from maintenance.services import (
    checklist_item_tick,
    freeze_exception_decide,
    freeze_exception_request,
    maintenance_sweep,
    occurrence_materialize,
    occurrence_reschedule,
    occurrence_transition,
    window_create,
    window_create_emergency,
    window_update,
)
from portal.errors import ApplicationError, ConflictError, ForbiddenError
from portal.notifications.models import EventKind, Notification
from tests.maintenance.conftest import T0

S = MaintenanceOccurrence.Status


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class TestWindows:
    def test_a_one_off_window_is_materialized_with_the_seeds_checklists(self, one_off, admin):
        window = one_off(owner=admin, expected_impact="Checkout read-only")
        [occurrence] = window.occurrences.all()
        assert (occurrence.starts_at, occurrence.ends_at) == (T0 + timedelta(days=3), T0 + timedelta(days=3, hours=2))
        assert occurrence.notice_due_at == occurrence.starts_at - timedelta(hours=24)
        assert (occurrence.status, occurrence.owner, occurrence.expected_impact) == (
            S.SCHEDULED,
            admin,
            "Checkout read-only",
        )
        phases = list(occurrence.checklist.values_list("phase", flat=True))
        assert (phases.count("pre"), phases.count("during"), phases.count("post")) == (6, 4, 5)
        assert occurrence.checklist.filter(text="Verify backup completed").exists()
        assert occurrence.history.get().kind == OccurrenceEvent.Kind.CREATED

    def test_a_recurring_window_goes_through_the_engine(self, admin, api):
        window = window_create(
            name="Search reindex",
            kind="recurring",
            actor=admin,
            rrule="freq=weekly;byday=th",
            zone="Europe/Berlin",
            dtstart=T0.date(),
            start_time=time(2, 30),
            duration=timedelta(hours=1),
            notice_lead=timedelta(days=2),
            services=[api],
            now=T0,
        )
        [first] = calendar_entries(start=T0, end=T0 + timedelta(days=7), windows=[window])
        assert first.start == utc(2026, 11, 19, 1, 30)  # 02:30 in Berlin (CET)
        assert window.rrule == "FREQ=WEEKLY;BYDAY=TH"

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"kind": "recurring", "rrule": "FREQ=SOMETIMES", "dtstart": T0.date(), "start_time": time(2)}, "rrule"),
            ({"kind": "recurring", "rrule": "FREQ=DAILY", "start_time": time(2)}, "dtstart"),
            ({"kind": "recurring", "rrule": "", "dtstart": T0.date(), "start_time": time(2)}, "rrule"),
            (
                {
                    "kind": "recurring",
                    "rrule": "FREQ=DAILY",
                    "dtstart": T0.date(),
                    "start_time": time(2),
                    "zone": "Nowhere/City",
                },
                "zone",
            ),
            ({"kind": "one_off", "starts_at": T0 - timedelta(hours=1)}, "starts_at"),
            ({"kind": "one_off", "starts_at": datetime(2026, 12, 1, 2)}, "starts_at"),  # noqa: DTZ001 - naive on purpose
            ({"kind": "one_off"}, "starts_at"),
            ({"kind": "emergency", "starts_at": T0}, "kind"),
            ({"kind": "one_off", "starts_at": T0 + timedelta(days=1), "duration": timedelta(0)}, "duration"),
            (
                {"kind": "one_off", "starts_at": T0 + timedelta(days=1), "duration": timedelta(days=7, minutes=1)},
                "duration",
            ),  # fmt: skip
            ({"kind": "one_off", "starts_at": T0 + timedelta(days=1), "environment": "prod"}, "environment"),
            ({"kind": "one_off", "starts_at": T0 + timedelta(days=1), "name": "Standard updates"}, "name"),
        ],
    )
    def test_bad_input_names_the_field(self, admin, fields, field):
        defaults = {"name": "x", "duration": timedelta(hours=1), "notice_lead": timedelta(hours=24)}
        with pytest.raises(ApplicationError) as refused:
            window_create(actor=admin, now=T0, **defaults | fields)
        assert refused.value.field == field

    def test_emergency_maintenance_starts_now_and_notifies_at_once(self, commander, api, subscriber):
        occurrence = window_create_emergency(
            name="Patch OpenSSL", actor=commander, duration=timedelta(hours=1), services=[api], now=T0
        )
        assert (occurrence.status, occurrence.starts_at, occurrence.started_at) == (S.IN_PROGRESS, T0, T0)
        assert occurrence.window.kind == MaintenanceWindow.Kind.EMERGENCY
        assert occurrence.window.notice_lead == timedelta(0)
        scheduled = Notification.objects.get(event_kind=EventKind.MAINTENANCE_SCHEDULED)
        assert scheduled.severity == "warning"
        assert "METHOD:REQUEST" in scheduled.calendar
        assert Notification.objects.filter(event_kind=EventKind.MAINTENANCE_STARTED).exists()
        assert [e.kind for e in occurrence.history.all()] == [
            "created", "transition", "notice", "transition", "checklist", "notice"
        ]  # fmt: skip

    def test_a_lead_time_change_moves_the_pending_notices_only(self, one_off, admin):
        window = one_off()
        window_update(window=window, actor=admin, notice_lead=timedelta(days=2), name="LB swap")
        occurrence = window.occurrences.get()
        assert occurrence.notice_due_at == occurrence.starts_at - timedelta(days=2)
        with pytest.raises(ApplicationError) as refused:
            window_update(window=window, actor=admin, rrule="FREQ=DAILY")
        assert refused.value.field == "rrule"


class TestSweep:
    def test_occurrences_within_the_notice_horizon_become_rows(self, standard):
        maintenance_sweep(now=T0)
        # Monday noon: Tuesday's occurrence is within 24 h + a day; next week's is not yet.
        assert list(standard.occurrences.values_list("original_start", flat=True)) == [utc(2026, 11, 17, 2)]

    def test_the_notice_goes_out_at_the_lead_time_exactly_once(self, standard, subscriber):
        before_due = utc(2026, 11, 16, 1, 59)
        assert maintenance_sweep(now=before_due) == 0
        occurrence = standard.occurrences.get()
        assert occurrence.status == S.SCHEDULED

        assert maintenance_sweep(now=utc(2026, 11, 16, 2)) == 1
        assert maintenance_sweep(now=utc(2026, 11, 16, 2, 1)) == 0  # the next beat finds nothing to do

        occurrence.refresh_from_db()
        assert (occurrence.status, occurrence.notified_at) == (S.NOTIFIED, utc(2026, 11, 16, 2))
        notice = MaintenanceNotice.objects.get()
        assert (notice.kind, notice.sequence) == ("scheduled", 0)
        notification = Notification.objects.get(event_kind=EventKind.MAINTENANCE_SCHEDULED)
        assert notification.deliveries.get().address == "stakeholders@example.com"
        assert "Tue 2026-11-17 02:00-04:00 UTC" in notification.title

    def test_a_started_occurrence_gets_no_late_scheduled_notice(self, standard):
        assert maintenance_sweep(now=utc(2026, 11, 17, 2, 30)) == 0

    def test_an_inactive_window_sends_nothing(self, standard):
        standard.active = False
        standard.save()
        assert maintenance_sweep(now=T0) == 0
        assert not MaintenanceOccurrence.objects.exists()


@pytest.fixture
def notified(one_off, subscriber, commander):
    window = one_off()
    occurrence = window.occurrences.get()
    return occurrence_transition(occurrence=occurrence, to_status=S.NOTIFIED, actor=commander, now=T0)


class TestLifecycle:
    def test_the_happy_path_is_on_the_history_and_in_the_audit_log(self, notified, commander):
        start = notified.starts_at
        occurrence = occurrence_transition(
            occurrence=notified, to_status=S.IN_PROGRESS, actor=commander, now=start, override_reason="by hand"
        )
        occurrence = occurrence_transition(
            occurrence=occurrence,
            to_status=S.EXTENDED,
            actor=commander,
            ends_at=occurrence.ends_at + timedelta(hours=1),
            now=start,
        )
        occurrence = occurrence_transition(
            occurrence=occurrence, to_status=S.COMPLETED, actor=commander, now=start + timedelta(hours=3),
            override_reason="by hand",
        )  # fmt: skip
        assert (occurrence.status, occurrence.sequence) == (S.COMPLETED, 1)
        kinds = list(occurrence.notices.values_list("kind", flat=True))
        assert kinds == ["scheduled", "started", "rescheduled", "completed"]
        assert Notification.objects.filter(event_kind=EventKind.MAINTENANCE_COMPLETED).count() == 1
        transitions = occurrence.history.filter(kind="transition").values_list("message", flat=True)
        assert list(transitions)[-1] == "Extended → Completed"
        audited = LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(MaintenanceOccurrence), object_pk=str(occurrence.pk)
        )
        assert audited.count() >= 4

    def test_a_refused_move_names_the_allowed_ones(self, notified, commander):
        with pytest.raises(ApplicationError) as refused:
            occurrence_transition(occurrence=notified, to_status=S.COMPLETED, actor=commander, now=T0)
        assert refused.value.field == "to_status"
        assert refused.value.extra == {"allowed": ["in_progress", "cancelled"]}
        assert "Allowed next: In progress, Cancelled" in refused.value.message

    def test_extending_needs_a_later_end(self, notified, commander):
        started = occurrence_transition(
            occurrence=notified, to_status=S.IN_PROGRESS, actor=commander, now=T0, override_reason="by hand"
        )
        with pytest.raises(ApplicationError) as refused:
            occurrence_transition(occurrence=started, to_status=S.EXTENDED, actor=commander, ends_at=started.ends_at)
        assert refused.value.field == "ends_at"


class TestRescheduleAndCancel:
    def test_rescheduling_a_notified_occurrence_sends_an_updated_invitation(self, notified, commander):
        new_start = notified.starts_at + timedelta(days=1)
        moved = occurrence_reschedule(
            occurrence=notified,
            starts_at=new_start,
            ends_at=new_start + timedelta(hours=3),
            actor=commander,
            reason="vendor delay",
            now=T0,
        )
        assert (moved.starts_at, moved.sequence, moved.status) == (new_start, 1, S.NOTIFIED)
        assert moved.original_start == notified.original_start
        notification = Notification.objects.get(event_kind=EventKind.MAINTENANCE_RESCHEDULED)
        assert "SEQUENCE:1" in notification.calendar
        assert "vendor delay" in notification.summary

    def test_rescheduling_before_the_notice_sends_nothing_yet(self, one_off, commander):
        occurrence = one_off().occurrences.get()
        new_start = occurrence.starts_at + timedelta(days=7)
        moved = occurrence_reschedule(
            occurrence=occurrence, starts_at=new_start, ends_at=new_start + timedelta(hours=1), actor=commander, now=T0
        )
        assert moved.notice_due_at == new_start - timedelta(hours=24)
        assert not Notification.objects.exists()

    @pytest.mark.parametrize(
        ("shift", "hours", "field"), [(timedelta(days=-10), 1, "starts_at"), (timedelta(days=1), -1, "ends_at")]
    )
    def test_bad_reschedule_names_the_field(self, notified, commander, shift, hours, field):
        start = notified.starts_at + shift
        with pytest.raises(ApplicationError) as refused:
            occurrence_reschedule(
                occurrence=notified, starts_at=start, ends_at=start + timedelta(hours=hours), actor=commander, now=T0
            )
        assert refused.value.field == field

    def test_a_reschedule_keeps_the_longest_its_window_kind_may_last(self, one_off, standard, commander):
        """A one-off or recurring occurrence lasts at most 7 days, as when its window is created."""
        for occurrence in (
            one_off().occurrences.get(),
            occurrence_materialize(window=standard, original_start=utc(2026, 12, 1, 2)),
        ):
            start = utc(2026, 12, 2, 2)
            with pytest.raises(ApplicationError) as refused:
                occurrence_reschedule(occurrence=occurrence, starts_at=start, ends_at=utc(2027, 12, 2, 4),
                                      actor=commander, now=T0)  # fmt: skip
            assert refused.value.field == "ends_at"
            assert "7 d" in refused.value.message
            longest = start + timedelta(days=7)
            moved = occurrence_reschedule(occurrence=occurrence, starts_at=start, ends_at=longest, actor=commander,
                                          now=T0)  # fmt: skip
            assert (moved.starts_at, moved.ends_at) == (start, longest)

    def test_a_rescheduled_emergency_lasts_at_most_2_days(self, commander):
        occurrence = window_create_emergency(name="Patch OpenSSL", actor=commander, duration=timedelta(hours=1),
                                             now=T0)  # fmt: skip
        MaintenanceOccurrence.objects.filter(pk=occurrence.pk).update(status=S.NOTIFIED)  # held back by a freeze
        start = T0 + timedelta(hours=2)
        with pytest.raises(ApplicationError) as refused:
            occurrence_reschedule(occurrence=occurrence, starts_at=start, ends_at=start + timedelta(days=2, minutes=1),
                                  actor=commander, now=T0)  # fmt: skip
        assert (refused.value.field, "2 d" in refused.value.message) == ("ends_at", True)
        moved = occurrence_reschedule(occurrence=occurrence, starts_at=start, ends_at=start + timedelta(days=2),
                                      actor=commander, now=T0)  # fmt: skip
        assert moved.ends_at - moved.starts_at == timedelta(days=2)

    def test_cancelling_a_notified_occurrence_sends_a_cancel(self, notified, commander):
        cancelled = occurrence_transition(occurrence=notified, to_status=S.CANCELLED, actor=commander, now=T0)
        assert (cancelled.status, cancelled.sequence) == (S.CANCELLED, 1)
        assert "METHOD:CANCEL" in Notification.objects.get(event_kind=EventKind.MAINTENANCE_CANCELLED).calendar
        with pytest.raises(ApplicationError):
            occurrence_reschedule(
                occurrence=cancelled,
                starts_at=T0 + timedelta(days=9),
                ends_at=T0 + timedelta(days=9, hours=1),
                actor=commander,
                now=T0,
            )

    def test_cancelling_before_any_notice_sends_nothing(self, one_off, commander):
        occurrence = one_off().occurrences.get()
        occurrence_transition(occurrence=occurrence, to_status=S.CANCELLED, actor=commander, now=T0)
        assert not Notification.objects.exists()

    def test_a_future_occurrence_of_a_recurring_window_is_materialized_to_act_on_it(self, standard, commander):
        occurrence = occurrence_materialize(window=standard, original_start=utc(2027, 1, 5, 2), now=T0)
        assert (occurrence.starts_at, occurrence.ends_at) == (utc(2027, 1, 5, 2), utc(2027, 1, 5, 4))
        assert occurrence_materialize(window=standard, original_start=utc(2027, 1, 5, 2), now=T0) == occurrence
        occurrence_transition(occurrence=occurrence, to_status=S.CANCELLED, actor=commander, now=T0)
        starts = [e.start for e in calendar_entries(start=utc(2026, 12, 29), end=utc(2027, 1, 13), windows=[standard])]
        assert starts == [utc(2026, 12, 29, 2), utc(2027, 1, 12, 2)]  # the cancelled one is gone from the calendar
        with pytest.raises(ApplicationError) as refused:
            occurrence_materialize(window=standard, original_start=utc(2027, 1, 6, 2), now=T0)
        assert refused.value.field == "original_start"

    def test_a_rescheduled_occurrence_shows_where_it_moved(self, standard, commander):
        occurrence = occurrence_materialize(window=standard, original_start=utc(2027, 1, 5, 2), now=T0)
        occurrence_reschedule(
            occurrence=occurrence, starts_at=utc(2027, 1, 7, 22), ends_at=utc(2027, 1, 7, 23), actor=commander, now=T0
        )
        entries = calendar_entries(start=utc(2027, 1, 4), end=utc(2027, 1, 11), windows=[standard])
        assert [(e.start, e.original_start, e.occurrence) for e in entries] == [
            (utc(2027, 1, 7, 22), utc(2027, 1, 5, 2), occurrence)
        ]


class TestChecklist:
    def test_ticks_are_recorded_with_who_and_when(self, notified, responder):
        item = notified.checklist.get(text="Verify backup completed")
        ticked = checklist_item_tick(item=item, done=True, actor=responder, now=T0)
        assert (ticked.done_at, ticked.done_by) == (T0, responder)
        checklist_item_tick(item=item, done=True, actor=responder, now=T0)  # idempotent
        unticked = checklist_item_tick(item=item, done=False, actor=responder, now=T0)
        assert unticked.done_at is None
        messages = list(notified.history.filter(kind="checklist").values_list("message", flat=True))
        assert messages == ["Done: Verify backup completed", "Not done: Verify backup completed"]

    def test_a_closed_occurrence_keeps_its_checklist(self, notified, commander, responder):
        occurrence_transition(occurrence=notified, to_status=S.CANCELLED, actor=commander, now=T0)
        with pytest.raises(ApplicationError) as refused:
            checklist_item_tick(
                item=ChecklistItem.objects.filter(occurrence=notified).first(), done=True, actor=responder
            )
        assert refused.value.field == "done"


class TestOverlaps:
    def test_a_window_in_a_freeze_is_reported(self, one_off):
        window = one_off(start=utc(2026, 11, 27, 2))
        [warning] = window_conflicts(window=window, now=T0)
        assert warning.startswith("Load balancer swap on 2026-11-27 02:00 UTC overlaps the freeze Black Friday")

    def test_windows_sharing_a_service_are_reported_and_others_are_not(self, one_off, standard, database):
        # Tuesday 2026-11-17 03:00-05:00 against standard updates' 02:00-04:00 on the API.
        clash = one_off(start=utc(2026, 11, 17, 3), name="API cert rotation")
        elsewhere = one_off(start=utc(2026, 11, 17, 3), name="DB vacuum", services=[database])
        [warning] = occurrence_conflicts(occurrence=clash.occurrences.get())
        assert warning == (
            "API cert rotation on 2026-11-17 03:00 UTC overlaps Standard updates (2026-11-17 02:00-04:00 UTC) on API"
        )
        assert occurrence_conflicts(occurrence=elsewhere.occurrences.get()) == []


class TestExceptions:
    @pytest.fixture
    def request_(self, responder):
        return freeze_exception_request(
            change="https://ci.example.com/deploys/42",
            reason="Payment provider fix",
            environment="production",
            starts_at=utc(2026, 11, 27, 9),
            ends_at=utc(2026, 11, 27, 11),
            actor=responder,
            now=T0,
        )

    def test_approved_by_another_commander_and_audited(self, request_, commander):
        approved = freeze_exception_decide(exception=request_, approve=True, actor=commander, note="ok", now=T0)
        assert (approved.status, approved.decided_by, approved.decided_at) == ("approved", commander, T0)
        entries = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(FreezeException))
        assert entries.count() == 2  # requested, then decided
        with pytest.raises(ConflictError):
            freeze_exception_decide(exception=request_, approve=False, actor=commander)

    def test_asking_tells_those_who_may_decide_with_a_link(self, commander, request_, responder):
        asked = Notification.objects.get(event_kind=EventKind.APPROVAL_REQUESTED)
        assert commander in asked.recipients.all()
        assert responder not in asked.recipients.all()  # neither the requester nor anyone who may not decide
        assert asked.title == "Freeze exception for https://ci.example.com/deploys/42 (production) needs a decision"
        assert "Payment provider fix" in asked.summary
        assert asked.url.endswith(f"/freezes/#exception-{request_.pk}")

    def test_the_requester_cannot_approve_their_own(self, commander):
        own = freeze_exception_request(
            change="deploy-7",
            reason="x",
            environment="production",
            starts_at=T0,
            ends_at=T0 + timedelta(hours=1),
            actor=commander,
            now=T0,
        )
        with pytest.raises(ForbiddenError):
            freeze_exception_decide(exception=own, approve=True, actor=commander)
        own.refresh_from_db()
        assert own.status == "pending"

    def test_a_responder_cannot_decide(self, request_, make_user):
        from portal.accounts.roles import Role

        with pytest.raises(ForbiddenError):
            freeze_exception_decide(exception=request_, approve=True, actor=make_user(Role.RESPONDER))

    def test_an_exception_lasts_at_most_14_days(self, responder):
        """A year-long request read as a 2-hour pass was approved: 14 days cover the longest freeze (Black Friday)."""
        ask = {"change": "d-1", "reason": "r", "environment": "production", "starts_at": utc(2026, 11, 27, 10),
               "actor": responder, "now": T0}  # fmt: skip
        for too_long in (utc(2027, 11, 27, 12), utc(2026, 12, 11, 10, 1)):
            with pytest.raises(ApplicationError) as refused:
                freeze_exception_request(ends_at=too_long, **ask)
            assert (refused.value.field, "14 d" in refused.value.message) == ("ends_at", True)
        assert not FreezeException.objects.exists()
        assert freeze_exception_request(ends_at=utc(2026, 12, 11, 10), **ask).ends_at == utc(2026, 12, 11, 10)

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"change": " "}, "change"),
            ({"reason": ""}, "reason"),
            ({"environment": "qa"}, "environment"),
            ({"ends_at": utc(2026, 11, 27, 8)}, "ends_at"),
            ({"starts_at": datetime(2026, 11, 27, 8)}, "starts_at"),  # noqa: DTZ001 - naive on purpose
        ],
    )
    def test_bad_requests_name_the_field(self, responder, fields, field):
        base = {
            "change": "d-1",
            "reason": "r",
            "environment": "production",
            "starts_at": utc(2026, 11, 27, 9),
            "ends_at": utc(2026, 11, 27, 11),
        }
        with pytest.raises(ApplicationError) as refused:
            freeze_exception_request(actor=responder, now=T0, **base | fields)
        assert refused.value.field == field
