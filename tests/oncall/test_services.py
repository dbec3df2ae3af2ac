"""Rotations, overrides, swaps and handoff checklists: validation naming the field, permissions, audit."""

from datetime import date, timedelta

import pytest
from auditlog.models import LogEntry
from django.db import IntegrityError, connection, transaction

from oncall.models import Handoff, HandoffItem, Layer, Override, Rotation, RotationVersion, Swap
from oncall.selectors import oncall_at
from oncall.services import (
    handoff_item_set,
    override_create,
    override_delete,
    override_update,
    rotation_create,
    rotation_update,
    rotation_version_add,
    swap_accept,
    swap_cancel,
    swap_decline,
    swap_request,
)
from portal.accounts.roles import Role
from portal.errors import ApplicationError, ConflictError, ForbiddenError
from portal.notifications.models import EventKind, Notification
from tests.oncall.conftest import utc

PRIMARY, SECONDARY = Layer.PRIMARY, Layer.SECONDARY
NOW = utc(2026, 1, 6, 12)  # Tuesday of ann's first week
WEDNESDAY, THURSDAY = utc(2026, 1, 7), utc(2026, 1, 8)
BENS_SHIFT, CATS_SHIFT = utc(2026, 1, 12, 9), utc(2026, 1, 19, 9)


def audited(model: type, pk: int) -> list[str]:
    return [
        entry.get_action_display()
        for entry in LogEntry.objects.get_for_object(model.objects.get(pk=pk)).order_by("timestamp")
    ]


class TestRotationCreate:
    def test_creates_the_rotation_and_its_first_version_audited(self, rotation, people, admin_user):
        version = rotation.versions.get()
        assert (version.timezone, version.handoff_rrule, str(version.handoff_time)) == ("UTC", "FREQ=WEEKLY;BYDAY=MO",
                                                                                        "09:00:00")  # fmt: skip
        assert [p.user for p in version.participants.all()] == people
        assert audited(Rotation, rotation.pk) == ["create"]
        assert audited(RotationVersion, version.pk) == ["create"]
        assert LogEntry.objects.filter(content_type__model="participant", action=LogEntry.Action.CREATE).count() == 3

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"name": " "}, "name"),
            ({"zone": "Mars/Olympus"}, "timezone"),
            ({"rrule": "FREQ=SOMETIMES"}, "handoff_rrule"),
            ({"rrule": "FREQ=MINUTELY;INTERVAL=30"}, "handoff_rrule"),
            ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "handoff_rrule"),  # 30 February: never fires
            ({"rrule": "FREQ=WEEKLY;COUNT=1"}, "handoff_rrule"),  # one handoff begins no shift
            ({"participants": []}, "participants"),
        ],
    )
    def test_bad_input_names_the_field(self, make_rotation, fields, field):
        with pytest.raises(ApplicationError) as refused:
            make_rotation(**fields)
        assert refused.value.field == field
        assert refused.value.message.startswith(f"{field}: ")
        assert not Rotation.objects.filter(name="Checkout on-call").exists()

    def test_participants_must_be_active_responders_listed_once(self, make_rotation, make_user, ann):
        viewer = make_user(Role.VIEWER, username="vic")
        gone = make_user(Role.RESPONDER, username="gone", is_active=False)
        for participants in ([ann, viewer], [ann, gone], [ann, ann]):
            with pytest.raises(ApplicationError) as refused:
                make_rotation(participants=participants)
            assert refused.value.field == "participants"
        with pytest.raises(ApplicationError) as refused:
            make_rotation(participants=[ann], secondary_participants=[viewer])
        assert refused.value.field == "secondary_participants"

    def test_orders_that_put_one_person_on_both_layers_in_a_shift_are_refused(self, make_rotation, ann, ben, cat):
        # ann/ben, ben/ann, cat/ben, then ann/ann in the fourth shift.
        for primary, secondary in (([ann], [ann]), ([ann, ben, cat], [ben, ann])):
            with pytest.raises(ApplicationError) as refused:
                make_rotation(participants=primary, secondary_participants=secondary)
            assert refused.value.field == "secondary_participants"
            assert refused.value.message == (
                "secondary_participants: with these orders ann is primary and secondary in the same shift: "
                "one person cannot be both primary and secondary."
            )
        assert not Rotation.objects.filter(name="Checkout on-call").exists()

    def test_the_same_people_may_back_each_other_up_in_turn(self, make_rotation, ann, ben):
        """Like the default (the next person is the secondary), an order of the same people never pairs anyone
        with themselves."""
        rotation = make_rotation(participants=[ann, ben], secondary_participants=[ben, ann])
        assert oncall_at(rotation, at=utc(2026, 1, 13), layer=SECONDARY) == ann

    def test_names_are_unique(self, make_rotation):
        make_rotation("Data")
        with pytest.raises(ApplicationError) as refused:
            make_rotation("Data")
        assert refused.value.field == "name"


class TestRotationChange:
    def test_details_change_in_place_without_a_version(self, rotation, lead, admin_user):
        rotation_update(rotation=rotation, actor=admin_user, name="Checkout", lead=lead)
        rotation.refresh_from_db()
        assert (rotation.name, rotation.lead) == ("Checkout", lead)
        assert rotation.versions.count() == 1
        assert audited(Rotation, rotation.pk) == ["create", "update"]

    def test_a_schedule_change_keeps_what_is_not_given(self, rotation, ann, admin_user):
        version = rotation_version_add(rotation=rotation, actor=admin_user, handoff_rrule="FREQ=DAILY", now=NOW)
        assert (version.timezone, version.handoff_rrule) == ("UTC", "FREQ=DAILY")
        assert [p.user.username for p in version.participants.all()] == ["ann", "ben", "cat"]
        assert RotationVersion.objects.filter(rotation=rotation).count() == 2

    def test_two_versions_cannot_start_at_once(self, rotation, ann, admin_user):
        rotation_version_add(rotation=rotation, actor=admin_user, participants=[ann], now=NOW)
        with pytest.raises(ApplicationError) as refused:
            rotation_version_add(rotation=rotation, actor=admin_user, participants=[ann], now=NOW)
        assert refused.value.field == "effective_from"

    def test_a_change_may_not_put_one_person_on_both_layers(self, rotation, ann, ben, admin_user):
        with pytest.raises(ApplicationError) as refused:
            rotation_version_add(rotation=rotation, actor=admin_user, secondary_participants=[ben], now=NOW)
        assert refused.value.field == "secondary_participants"
        assert "ben is primary and secondary in the same shift" in refused.value.message
        assert rotation.versions.count() == 1

    def test_bad_schedule_names_the_field(self, rotation, admin_user):
        with pytest.raises(ApplicationError) as refused:
            rotation_version_add(rotation=rotation, actor=admin_user, timezone="Nowhere/Town", now=NOW)
        assert refused.value.field == "timezone"

    def test_a_rule_without_a_handoff_from_the_change_on_is_refused(self, rotation, admin_user):
        """Daily handoffs until the 10th: none once the change takes effect at the next handoff, on the 12th."""
        with pytest.raises(ApplicationError) as refused:
            rotation_version_add(rotation=rotation, actor=admin_user, handoff_rrule="FREQ=DAILY;UNTIL=20260110T000000Z",
                                 now=NOW)  # fmt: skip
        assert refused.value.field == "handoff_rrule"
        assert rotation.versions.count() == 1


class TestOverrideLength:
    """An override covers an absence, at most 28 days: a year-long one was accepted and listed as a day."""

    def make(self, rotation, end, *, user, actor):
        return override_create(rotation=rotation, layer=PRIMARY, user=user, start=WEDNESDAY, end=end, actor=actor,
                               now=NOW)  # fmt: skip

    @pytest.fixture
    def dee(self, make_user):
        """A Responder outside the rotation, so four weeks as primary never meet a secondary shift of her own."""
        return make_user(Role.RESPONDER, username="dee")

    def test_longer_than_28_days_is_refused_naming_end(self, rotation, dee, admin_user):
        for end in (utc(2027, 1, 7), WEDNESDAY + timedelta(days=28, minutes=1)):
            with pytest.raises(ApplicationError) as refused:
                self.make(rotation, end, user=dee, actor=admin_user)
            assert (refused.value.field, "28 d" in refused.value.message) == ("end", True)
        assert not Override.objects.exists()
        longest = self.make(rotation, WEDNESDAY + timedelta(days=28), user=dee, actor=admin_user)
        assert longest.end - longest.start == timedelta(days=28)

    def test_an_update_cannot_stretch_one_past_28_days(self, rotation, dee, admin_user):
        override = self.make(rotation, THURSDAY, user=dee, actor=admin_user)
        with pytest.raises(ApplicationError) as refused:
            override_update(override=override, actor=admin_user, end=utc(2027, 1, 8), now=NOW)
        assert refused.value.field == "end"
        override_update(override=override, actor=admin_user, end=WEDNESDAY + timedelta(days=28), now=NOW)
        override.refresh_from_db()
        assert override.end == WEDNESDAY + timedelta(days=28)

    def test_a_swap_of_shifts_longer_than_28_days_still_becomes_overrides(self, make_rotation, ann, ben, cat):
        # Five-weekly shifts from Monday 2026-01-05: ben's first, cat's from 02-09, ben's again from 03-16.
        rotation = make_rotation("Five-weekly", rrule="FREQ=WEEKLY;INTERVAL=5;BYDAY=MO", participants=[ben, cat],
                                 secondary_participants=[ann])  # fmt: skip
        swap = swap_request(rotation=rotation, requester=cat, shift_start=utc(2026, 2, 9, 9), counterparty=ben,
                            counterparty_shift_start=utc(2026, 3, 16, 9), now=NOW)  # fmt: skip
        swap_accept(swap=swap, actor=ben, now=NOW)
        assert sorted((o.user.username, o.end - o.start) for o in Override.objects.all()) == [
            ("ben", timedelta(weeks=5)), ("cat", timedelta(weeks=5))
        ]  # fmt: skip


class TestOverrides:
    def make(self, rotation, user, actor, *, start=WEDNESDAY, end=THURSDAY, layer=PRIMARY, now=NOW):
        return override_create(rotation=rotation, layer=layer, user=user, start=start, end=end, actor=actor, now=now)

    def test_created_and_audited(self, rotation, cat, admin_user):
        override = self.make(rotation, cat, admin_user)
        assert oncall_at(rotation, at=utc(2026, 1, 7, 12)) == cat
        assert audited(Override, override.pk) == ["create"]

    @pytest.mark.parametrize(
        ("start", "end", "field"),
        [
            (utc(2026, 1, 8), utc(2026, 1, 8), "end"),
            (utc(2026, 1, 8), utc(2026, 1, 7), "end"),
            (utc(2026, 1, 6), utc(2026, 1, 8), "start"),  # six hours in the past
            (utc(2026, 1, 7).replace(tzinfo=None), utc(2026, 1, 8), "start"),
        ],
    )
    def test_bad_spans_name_the_field(self, rotation, cat, admin_user, start, end, field):
        with pytest.raises(ApplicationError) as refused:
            self.make(rotation, cat, admin_user, start=start, end=end)
        assert refused.value.field == field
        assert not Override.objects.exists()

    def test_a_start_a_moment_ago_means_now(self, rotation, cat, admin_user):
        override = self.make(rotation, cat, admin_user, start=NOW - timedelta(minutes=2))
        assert override.start == NOW

    def test_the_person_covering_must_be_able_to_be_on_call(self, rotation, make_user, admin_user):
        for user in (
            make_user(Role.VIEWER, username="vic"),
            make_user(Role.RESPONDER, username="old", is_active=False),
        ):
            with pytest.raises(ApplicationError) as refused:
                self.make(rotation, user, admin_user)
            assert refused.value.field == "user"

    def test_overlapping_overrides_on_one_layer_are_refused(self, rotation, ann, ben, cat, admin_user):
        first = self.make(rotation, cat, admin_user, start=utc(2026, 1, 7), end=utc(2026, 1, 8))
        with pytest.raises(ApplicationError) as refused:
            self.make(rotation, ben, admin_user, start=utc(2026, 1, 7, 23), end=utc(2026, 1, 9))
        assert refused.value.field == "start"
        assert refused.value.extra == {"overlaps": first.pk}
        # Back to back, or on the other layer, is fine.
        self.make(rotation, cat, admin_user, start=utc(2026, 1, 8), end=utc(2026, 1, 9))
        self.make(rotation, ann, admin_user, start=utc(2026, 1, 7), end=utc(2026, 1, 9), layer=SECONDARY)
        assert Override.objects.count() == 3

    def test_the_primary_cannot_also_cover_the_secondary(self, rotation, ann, admin_user):
        """ann is primary all week (ben secondary)."""
        with pytest.raises(ApplicationError) as refused:
            self.make(rotation, ann, admin_user, start=utc(2026, 1, 8, 10), end=utc(2026, 1, 8, 12), layer=SECONDARY)
        assert refused.value.field == "user"
        assert refused.value.message == (
            "user: ann is primary during part of that time (Thu 08 Jan 10:00–12:00 UTC): "
            "one person cannot be both primary and secondary."
        )
        assert not Override.objects.exists()

    def test_the_secondary_cannot_also_cover_the_primary(self, rotation, ben, admin_user):
        with pytest.raises(ApplicationError) as refused:
            self.make(rotation, ben, admin_user, start=utc(2026, 1, 11, 12), end=utc(2026, 1, 13))
        assert refused.value.field == "user"
        # Only the part of ann's week in which ben is her secondary: from Monday ben is primary, cat secondary.
        assert "ben is secondary during part of that time (Sun 11 Jan 12:00 – Mon 12 Jan 09:00 UTC)" in (
            refused.value.message
        )
        assert not Override.objects.exists()

    def test_overrides_in_place_count_on_the_other_layer(self, rotation, ann, cat, admin_user):
        self.make(rotation, cat, admin_user, start=WEDNESDAY, end=THURSDAY)  # cat is primary, not ann
        with pytest.raises(ApplicationError) as refused:
            self.make(rotation, cat, admin_user, start=utc(2026, 1, 7, 18), end=utc(2026, 1, 9), layer=SECONDARY)
        assert "cat is primary during part of that time (Wed 07 Jan 18:00 – Thu 08 Jan 00:00 UTC)" in (
            refused.value.message
        )
        # ann is not primary while cat covers her, so ann may be the secondary then.
        self.make(rotation, ann, admin_user, start=WEDNESDAY, end=THURSDAY, layer=SECONDARY)
        assert oncall_at(rotation, at=utc(2026, 1, 7, 12), layer=SECONDARY) == ann
        assert Override.objects.count() == 2

    def test_an_update_cannot_put_one_person_on_both_layers(self, rotation, ann, cat, admin_user):
        override = self.make(rotation, cat, admin_user, start=WEDNESDAY, end=THURSDAY, layer=SECONDARY)
        with pytest.raises(ApplicationError) as refused:
            override_update(override=override, actor=admin_user, user=ann, now=NOW)
        assert refused.value.field == "user"
        assert "ann is primary" in refused.value.message
        self.make(rotation, cat, admin_user, start=utc(2026, 1, 9), end=utc(2026, 1, 10))
        with pytest.raises(ApplicationError) as refused:
            override_update(override=override, actor=admin_user, end=utc(2026, 1, 9, 6), now=NOW)
        assert "cat is primary during part of that time (Fri 09 Jan 00:00–06:00 UTC)" in refused.value.message
        override.refresh_from_db()
        assert (override.user, override.end) == (cat, THURSDAY)

    def test_who_may_arrange_overrides(self, rotation, make_user, ann, cat, admin_user):
        outsider = make_user(Role.INCIDENT_COMMANDER, username="olly")
        viewer = make_user(Role.VIEWER, username="vic")
        for actor in (outsider, viewer):
            with pytest.raises(ForbiddenError):
                self.make(rotation, cat, actor)
        assert self.make(rotation, cat, ann).created_by == ann  # on the rotation
        assert (
            self.make(rotation, ann, admin_user, start=utc(2026, 1, 9), end=utc(2026, 1, 10)).created_by == admin_user
        )

    def test_update_moves_a_future_override_and_only_the_end_of_a_running_one(self, rotation, cat, make_user,
                                                                              admin_user):  # fmt: skip
        dan = make_user(Role.RESPONDER, username="dan")  # not on the rotation (ben is the week's secondary)
        override = self.make(rotation, cat, admin_user, start=utc(2026, 1, 7), end=utc(2026, 1, 8))
        override_update(override=override, actor=admin_user, start=utc(2026, 1, 7, 6), user=dan, now=NOW)
        override.refresh_from_db()
        assert (override.start, override.user) == (utc(2026, 1, 7, 6), dan)
        running = utc(2026, 1, 7, 12)
        with pytest.raises(ApplicationError) as refused:
            override_update(override=override, actor=admin_user, start=utc(2026, 1, 7, 8), now=running)
        assert refused.value.field == "start"
        with pytest.raises(ApplicationError) as refused:
            override_update(override=override, actor=admin_user, end=utc(2026, 1, 7, 11), now=running)
        assert refused.value.field == "end"
        override_update(override=override, actor=admin_user, end=running, now=running)
        assert oncall_at(rotation, at=running) != dan
        assert audited(Override, override.pk) == ["create", "update", "update"]

    def test_only_overrides_that_have_not_started_are_withdrawn(self, rotation, cat, admin_user):
        override = self.make(rotation, cat, admin_user)
        with pytest.raises(ApplicationError) as refused:
            override_delete(override=override, actor=admin_user, now=utc(2026, 1, 7, 1))
        assert refused.value.field == "start"
        override_delete(override=override, actor=admin_user, now=NOW)
        assert not Override.objects.exists()
        assert LogEntry.objects.filter(object_pk=str(override.pk), action=LogEntry.Action.DELETE).exists()

    @pytest.mark.integration
    def test_postgresql_refuses_overlaps_that_bypass_the_service(self, rotation, ben, cat):
        assert connection.vendor == "postgresql"
        Override.objects.create(rotation=rotation, layer=PRIMARY, user=cat, start=utc(2026, 2, 1), end=utc(2026, 2, 3))
        with pytest.raises(IntegrityError), transaction.atomic():
            Override.objects.create(rotation=rotation, layer=PRIMARY, user=ben, start=utc(2026, 2, 2),
                                    end=utc(2026, 2, 4))  # fmt: skip
        Override.objects.create(rotation=rotation, layer=PRIMARY, user=ben, start=utc(2026, 2, 3), end=utc(2026, 2, 4))


class TestSwaps:
    """ann holds shift 0 (from 2026-01-05), ben shift 1 (from 01-12), cat shift 2 (from 01-19); now is 2026-01-06.
    dan is the secondary throughout, so a trade of primary shifts leaves each one a backup."""

    @pytest.fixture
    def dan(self, make_user):
        return make_user(Role.RESPONDER, username="dan")

    @pytest.fixture
    def rotation(self, make_rotation, dan):
        return make_rotation(secondary_participants=[dan])

    def ask(self, rotation, requester, counterparty, *, mine=CATS_SHIFT, theirs=BENS_SHIFT, **kw):
        return swap_request(rotation=rotation, requester=requester, shift_start=mine, counterparty=counterparty,
                            counterparty_shift_start=theirs, now=NOW, **kw)  # fmt: skip

    def test_accepted_by_the_other_party_the_trade_becomes_two_overrides(self, rotation, ben, cat):
        swap = self.ask(rotation, cat, ben, note="Wedding on the 13th")
        assert Notification.objects.filter(event_kind=EventKind.ONCALL_SWAP, recipients=ben).exists()
        swap_accept(swap=swap, actor=ben, now=NOW)
        swap.refresh_from_db()
        assert (swap.status, swap.decided_by) == (Swap.Status.ACCEPTED, ben)
        assert oncall_at(rotation, at=utc(2026, 1, 13)) == cat
        assert oncall_at(rotation, at=utc(2026, 1, 20)) == ben
        assert set(swap.overrides.values_list("user__username", flat=True)) == {"ben", "cat"}
        assert Notification.objects.filter(event_kind=EventKind.ONCALL_SWAP, recipients=cat).exists()
        assert audited(Swap, swap.pk) == ["create", "update"]

    def test_an_admin_may_accept(self, rotation, ben, cat, admin_user):
        swap = swap_accept(swap=self.ask(rotation, cat, ben), actor=admin_user, now=NOW)
        assert swap.decided_by == admin_user

    def test_nobody_else_accepts_and_only_the_requester_cancels(self, rotation, ann, ben, cat):
        swap = self.ask(rotation, cat, ben)
        for actor in (ann, cat):
            with pytest.raises(ForbiddenError):
                swap_accept(swap=swap, actor=actor, now=NOW)
        with pytest.raises(ForbiddenError):
            swap_cancel(swap=swap, actor=ben, now=NOW)
        swap_cancel(swap=swap, actor=cat, now=NOW)
        with pytest.raises(ConflictError):
            swap_accept(swap=swap, actor=ben, now=NOW)
        assert not Override.objects.exists()

    def test_declined(self, rotation, ben, cat):
        swap = swap_decline(swap=self.ask(rotation, cat, ben), actor=ben, now=NOW)
        assert swap.status == Swap.Status.DECLINED
        assert oncall_at(rotation, at=utc(2026, 1, 13)) == ben

    def test_only_people_on_the_rotation_ask(self, rotation, make_user, ben):
        outsider = make_user(Role.RESPONDER, username="olly")
        with pytest.raises(ForbiddenError):
            self.ask(rotation, outsider, ben)

    @pytest.mark.parametrize(
        ("mine", "theirs", "field"),
        [
            (utc(2026, 1, 19, 10), utc(2026, 1, 12, 9), "shift_start"),  # no shift starts then
            (utc(2026, 1, 12, 9), utc(2026, 1, 12, 9), "shift_start"),  # that shift is ben's
            (utc(2026, 1, 19, 9), utc(2026, 1, 26, 9), "counterparty_shift_start"),  # that one is ann's
            (utc(2026, 1, 19, 9), utc(2026, 1, 5, 9), "counterparty_shift_start"),  # started already
        ],
    )
    def test_shifts_must_be_the_parties_own_future_ones(self, rotation, ann, ben, cat, mine, theirs, field):
        counterparty = ann if theirs == utc(2026, 1, 5, 9) else ben
        with pytest.raises(ApplicationError) as refused:
            self.ask(rotation, cat, counterparty, mine=mine, theirs=theirs)
        assert refused.value.field == field

    def test_a_shift_traded_away_is_no_longer_offered_by_either_party(self, rotation, ann, ben, cat):
        """After cat and ben trade, ben covers cat's week of the 19th and cat his of the 12th: neither week is
        theirs to trade again, whoever asks."""
        swap_accept(swap=self.ask(rotation, cat, ben), actor=ben, now=NOW)
        with pytest.raises(ApplicationError) as refused:
            self.ask(rotation, cat, ann, mine=CATS_SHIFT, theirs=utc(2026, 1, 26, 9))
        assert refused.value.field == "shift_start"
        assert refused.value.message == (
            "shift_start: cat no longer holds that primary shift: ben covers Mon 19 Jan 09:00 – Mon 26 Jan 09:00 UTC."
        )
        with pytest.raises(ApplicationError) as refused:
            self.ask(rotation, ann, ben, mine=utc(2026, 1, 26, 9), theirs=BENS_SHIFT)
        assert refused.value.field == "counterparty_shift_start"
        assert Swap.objects.count() == 1

    def test_a_swap_with_oneself_is_refused(self, rotation, cat):
        with pytest.raises(ApplicationError) as refused:
            self.ask(rotation, cat, cat)
        assert refused.value.field == "counterparty"

    def test_a_trade_that_makes_someone_their_own_backup_is_refused(self, make_rotation, ben, cat):
        """Without a secondary order the secondary is the next person: cat backs ben up in his week of the 12th."""
        rotation = make_rotation("Next person backs up")
        with pytest.raises(ApplicationError) as refused:
            self.ask(rotation, cat, ben)
        assert refused.value.field == "counterparty_shift_start"
        assert refused.value.message == (
            "counterparty_shift_start: cat is secondary during part of that time (Mon 12 Jan 09:00 – Mon 19 Jan "
            "09:00 UTC): one person cannot be both primary and secondary."
        )
        assert not Swap.objects.exists()

    def test_accepting_checks_the_other_layer_again(self, rotation, ben, cat, admin_user):
        swap = self.ask(rotation, cat, ben)
        # Since the request cat has agreed to be the secondary on the Tuesday of ben's week, which she would take.
        override_create(rotation=rotation, layer=SECONDARY, user=cat, start=utc(2026, 1, 13), end=utc(2026, 1, 14),
                        actor=admin_user, now=NOW)  # fmt: skip
        with pytest.raises(ApplicationError) as refused:
            swap_accept(swap=swap, actor=ben, now=NOW)
        assert refused.value.field == "counterparty_shift_start"
        assert "cat is secondary during part of that time (Tue 13 Jan 00:00 – Wed 14 Jan 00:00 UTC)" in (
            refused.value.message
        )
        assert Swap.objects.get().status == Swap.Status.PENDING
        assert not Override.objects.filter(layer=PRIMARY).exists()
        assert oncall_at(rotation, at=utc(2026, 1, 13, 12)) == ben

    def test_a_schedule_change_since_the_request_stops_the_trade(self, rotation, ann, ben, cat, admin_user):
        swap = self.ask(rotation, cat, ben)
        rotation_version_add(rotation=rotation, actor=admin_user, participants=[ann, cat, ben], now=NOW)
        with pytest.raises(ApplicationError) as refused:
            swap_accept(swap=swap, actor=ben, now=NOW)
        assert refused.value.field in {"shift_start", "counterparty_shift_start"}
        assert Swap.objects.get().status == Swap.Status.PENDING


class TestHandoffChecklist:
    @pytest.fixture
    def handoff(self, rotation, ann, ben):
        handoff = Handoff.objects.create(rotation=rotation, at=utc(2026, 1, 12, 9), outgoing=ann, incoming=ben)
        for side, position in [("outgoing", 0), ("outgoing", 1), ("incoming", 0)]:
            HandoffItem.objects.create(handoff=handoff, side=side, position=position, text=f"{side} {position}")
        return handoff

    def test_each_person_ticks_only_their_own_items(self, handoff, ann, ben, admin_user):
        incoming_item = handoff.items.get(side="incoming")
        for actor in (ann, admin_user):
            with pytest.raises(ForbiddenError) as refused:
                handoff_item_set(item=incoming_item, actor=actor, done=True)
            assert refused.value.field == "item"
        item = handoff_item_set(item=incoming_item, actor=ben, done=True)
        assert (item.done_by, item.done_at is not None) == (ben, True)

    def test_the_last_tick_acknowledges_and_closes_the_checklist(self, handoff, ann, ben):
        now = utc(2026, 1, 12, 9, 30)
        for item in handoff.items.filter(side="outgoing"):
            handoff_item_set(item=item, actor=ann, done=True, now=now)
        handoff_item_set(item=handoff.items.get(position=1, side="outgoing"), actor=ann, done=False, now=now)
        handoff_item_set(item=handoff.items.get(position=1, side="outgoing"), actor=ann, done=True, now=now)
        handoff.refresh_from_db()
        assert handoff.acknowledged_at is None
        handoff_item_set(item=handoff.items.get(side="incoming"), actor=ben, done=True, now=now)
        handoff.refresh_from_db()
        assert handoff.acknowledged_at == now
        with pytest.raises(ConflictError):
            handoff_item_set(item=handoff.items.get(side="incoming"), actor=ben, done=False)
        assert audited(HandoffItem, handoff.items.get(side="incoming").pk) == ["create", "update"]


def test_create_with_a_start_date_counts_shifts_from_its_first_handoff(make_rotation, ann, ben):
    rotation = rotation_create(name="Midweek", start_date=date(2026, 3, 5), participants=[ann, ben], actor=None)
    assert oncall_at(rotation, at=utc(2026, 3, 8)) is None
    assert oncall_at(rotation, at=utc(2026, 3, 9, 9)) == ann


def test_a_rotation_that_has_not_started_yet_can_be_changed(make_rotation, ann, ben, admin_user):
    rotation = make_rotation("Later", start_date=date(2026, 6, 1), participants=[ann])
    version = rotation_version_add(rotation=rotation, actor=admin_user, participants=[ben], now=NOW)
    assert version.effective_from == NOW  # nothing runs yet, so the change holds from now
    assert oncall_at(rotation, at=utc(2026, 6, 1, 9)) == ben


def test_a_change_replaces_changes_scheduled_after_it(rotation, ann, ben, cat, admin_user):
    rotation_version_add(rotation=rotation, actor=admin_user, participants=[cat], effective_from=utc(2026, 3, 2, 9),
                         now=NOW)  # fmt: skip
    rotation_version_add(rotation=rotation, actor=admin_user, participants=[ben], now=NOW)
    assert oncall_at(rotation, at=utc(2026, 4, 6, 9)) == ben
    assert rotation.versions.count() == 2
    assert LogEntry.objects.filter(content_type__model="rotationversion", action=LogEntry.Action.DELETE).count() == 1
