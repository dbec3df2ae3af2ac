"""The on-call API: who is on call (now and at T), rotations, overrides, swaps, handoffs and feeds."""

import uuid
from datetime import date, timedelta

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.models import Service
from oncall.models import CalendarFeed, Handoff, HandoffItem, Layer, Override, Rotation, Swap
from oncall.selectors import ONCALL_NOW, rotation_schedule
from oncall.services import override_create, rotation_version_add
from portal.accounts.roles import Role
from portal.accounts.services import api_token_create
from tests.oncall.conftest import utc


def api(name: str, *args: object) -> str:
    return reverse(f"api:{name}", args=args)


@pytest.fixture
def steady(make_rotation, ann, ben):
    """ann always primary, ben always secondary."""
    start = (timezone.now() - timedelta(days=21)).date()
    return make_rotation("Steady", rrule="FREQ=DAILY", start_date=start, participants=[ann],
                         secondary_participants=[ben])  # fmt: skip


@pytest.fixture
def viewer_api(token_client):
    return token_client(Role.VIEWER, username="vera")


@pytest.fixture
def admin_api(token_client):
    return token_client(Role.ADMIN, username="adam")


def as_user(user):
    """An API client holding a token of an existing user."""
    client = APIClient()
    issued = api_token_create(user=user, name=f"tests-{uuid.uuid4().hex[:8]}", created_by=None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
    return client


class TestNow:
    def test_every_rotation_with_primary_and_secondary_and_their_contact_methods(self, viewer_api, steady):
        body = viewer_api.get(api("oncall-now")).json()
        row = next(row for row in body["results"] if row["name"] == "Steady")
        assert row["primary"]["person"] == {"username": "ann", "full_name": "Ann", "email": "ann@example.com",
                                            "phone": "+14155550101", "chat_handle": "@ann"}  # fmt: skip
        assert row["secondary"]["person"]["username"] == "ben"
        assert row["primary"]["source"] == "schedule"
        assert row["primary"]["end"] > row["at"]

    def test_filters_by_service_and_paginates(self, viewer_api, make_rotation):
        api_service = Service.objects.create(name="API", slug="api")
        make_rotation("Covers API", services=[api_service])
        make_rotation("Other")
        body = viewer_api.get(api("oncall-now"), {"service": "api"}).json()
        assert [row["name"] for row in body["results"]] == ["Covers API"]
        assert [row["services"] for row in body["results"]] == [["api"]]
        page = viewer_api.get(api("oncall-now"), {"page_size": 1}).json()
        assert page["count"] == 3  # with the seeded "Platform on-call"
        assert len(page["results"]) == 1
        assert page["next"]

    def test_query_count_is_constant(self, viewer_api, make_rotation):
        make_rotation("R0")
        viewer_api.get(api("oncall-now"))
        ONCALL_NOW.invalidate()  # measure the answer computed, not the cached one
        with CaptureQueriesContext(connection) as one:
            viewer_api.get(api("oncall-now"))
        for n in range(1, 6):
            make_rotation(f"R{n}", services=[Service.objects.create(name=f"S{n}", slug=f"s{n}")])
        with CaptureQueriesContext(connection) as six:
            assert viewer_api.get(api("oncall-now")).json()["count"] == 7
        assert len(six) == len(one)


class TestOnCallAt:
    @pytest.mark.parametrize(
        ("at", "primary"),
        [
            ("2026-01-12T09:00:00Z", "ben"),  # the exact handoff
            ("2026-01-12T08:59:59.999999+00:00", "ann"),
            ("2026-01-12T10:00:00+01:00", "ben"),
            ("2026-01-12T10:00:00 01:00", "ben"),  # '+' sent unencoded arrives as a space
            ("2027-01-04T09:00:00Z", "ben"),  # a year ahead
        ],
    )
    def test_who_is_on_call_at_an_instant(self, viewer_api, rotation, at, primary):
        body = viewer_api.get(api("oncall-rotation-oncall", rotation.pk), {"at": at}).json()
        assert body["primary"]["person"]["username"] == primary

    def test_across_spring_forward_in_london(self, viewer_api, make_rotation):
        rotation = make_rotation("London", zone="Europe/London")
        before = viewer_api.get(api("oncall-rotation-oncall", rotation.pk), {"at": "2026-03-30T08:59:59+01:00"})
        after = viewer_api.get(api("oncall-rotation-oncall", rotation.pk), {"at": "2026-03-30T09:00:00+01:00"})
        assert before.json()["primary"]["end"] == "2026-03-30T08:00:00Z"
        assert after.json()["primary"]["start"] == "2026-03-30T08:00:00Z"
        assert before.json()["primary"]["person"] != after.json()["primary"]["person"]

    @pytest.mark.parametrize("at", ["2026-01-12T09:00:00", "yesterday", "2026-13-01T00:00:00Z", "12:00+00:00"])
    def test_a_naive_or_malformed_time_is_a_400_naming_at(self, viewer_api, rotation, at):
        response = viewer_api.get(api("oncall-rotation-oncall", rotation.pk), {"at": at})
        assert response.status_code == 400
        assert response.json()["field"] == "at"
        assert "UTC offset" in response.json()["detail"]

    @pytest.mark.parametrize("at", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00"])
    def test_a_time_out_of_range_is_a_400_naming_at(self, viewer_api, rotation, at):
        response = viewer_api.get(api("oncall-rotation-oncall", rotation.pk), {"at": at})
        assert response.status_code == 400
        assert response.json()["errors"] == {"at": ["must be between 1970 and 2999."]}

    def test_default_is_now(self, viewer_api, steady):
        assert (
            viewer_api.get(api("oncall-rotation-oncall", steady.pk)).json()["secondary"]["person"]["username"] == "ben"
        )

    def test_unknown_rotation_is_a_404(self, viewer_api, db):
        assert viewer_api.get(api("oncall-rotation-oncall", 999)).status_code == 404


class TestSchedule:
    def test_segments_with_overrides(self, viewer_api, rotation, cat, admin_user):
        override_create(rotation=rotation, layer=Layer.PRIMARY, user=cat, start=utc(2026, 1, 6), end=utc(2026, 1, 7),
                        actor=admin_user, now=utc(2026, 1, 5))  # fmt: skip
        body = viewer_api.get(api("oncall-rotation-schedule", rotation.pk),
                              {"start": "2026-01-05T09:00:00Z", "end": "2026-01-12T09:00:00Z"}).json()  # fmt: skip
        primary = [(s["person"]["username"], s["start"], s["source"]) for s in body if s["layer"] == "primary"]
        assert primary == [
            ("ann", "2026-01-05T09:00:00Z", "schedule"),
            ("cat", "2026-01-06T00:00:00Z", "override"),
            ("ann", "2026-01-07T00:00:00Z", "schedule"),
        ]

    def test_the_range_is_bounded(self, viewer_api, rotation):
        response = viewer_api.get(api("oncall-rotation-schedule", rotation.pk),
                                  {"start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"})  # fmt: skip
        assert response.status_code == 400
        assert response.json()["field"] == "end"


class TestRotations:
    def payload(self, **changes):
        return {"name": "Data on-call", "timezone": "America/New_York", "handoff_rrule": "FREQ=WEEKLY;BYDAY=MO",
                "handoff_time": "09:00", "start_date": "2026-01-05", "participants": ["ann", "ben"],
                "services": []} | changes  # fmt: skip

    def test_admin_creates_and_anyone_reads(self, admin_api, viewer_api, people):
        response = admin_api.post(api("oncall-rotation-list"), self.payload(), format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["current_version"]["participants"] == ["ann", "ben"]
        assert body["current_version"]["timezone"] == "America/New_York"
        listed = viewer_api.get(api("oncall-rotation-list"), {"name": "data"}).json()["results"]
        assert [row["name"] for row in listed] == ["Data on-call"]
        creation = LogEntry.objects.get_for_object(Rotation.objects.get(name="Data on-call")).get()
        assert creation.actor.username == "adam"

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.RESPONDER, Role.INCIDENT_COMMANDER])
    def test_only_admins_write(self, token_client, rotation, people, role):
        client = token_client(role, username="someone")
        assert client.post(api("oncall-rotation-list"), self.payload(), format="json").status_code == 403
        assert client.patch(api("oncall-rotation-detail", rotation.pk), {"name": "x"}, format="json").status_code == 403
        assert client.delete(api("oncall-rotation-detail", rotation.pk)).status_code == 403

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"timezone": "Mars/Olympus"}, "timezone"),
            ({"handoff_rrule": "FREQ=FORTNIGHTLY"}, "handoff_rrule"),
            ({"handoff_rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "handoff_rrule"),  # never fires
            ({"participants": ["ann", "nobody"]}, "participants"),
            ({"participants": []}, "participants"),
            ({"start_date": "soon"}, "start_date"),
            ({"start_date": "0001-01-01", "timezone": "Asia/Tokyo"}, "start_date"),
            ({"handoff_time": "25:00"}, "handoff_time"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(self, admin_api, people, changes, field):
        response = admin_api.post(api("oncall-rotation-list"), self.payload(**changes), format="json")
        assert response.status_code == 400
        assert field in response.json()["errors"]

    def test_one_person_on_both_layers_in_a_shift_is_a_400_naming_the_field(self, admin_api, rotation, people,
                                                                           time_machine):  # fmt: skip
        time_machine.move_to(utc(2026, 1, 6, 12), tick=False)
        response = admin_api.post(
            api("oncall-rotation-list"),
            self.payload(participants=["ann"], secondary_participants=["ann"]),
            format="json",
        )
        assert response.status_code == 400
        assert response.json()["errors"] == {"secondary_participants": [
            "secondary_participants: with these orders ann is primary and secondary in the same shift: one person "
            "cannot be both primary and secondary."
        ]}  # fmt: skip
        assert not Rotation.objects.filter(name="Data on-call").exists()
        # ann, ben, cat in turn: a secondary order of ben alone pairs ben with himself every third week.
        response = admin_api.patch(
            api("oncall-rotation-detail", rotation.pk),
            {"name": "Renamed", "secondary_participants": ["ben"]},
            format="json",
        )
        assert response.status_code == 400
        assert response.json()["field"] == "secondary_participants"
        assert (Rotation.objects.get(pk=rotation.pk).name, rotation.versions.count()) == ("Checkout on-call", 1)

    def test_patch_adds_a_version_and_last_week_stays(self, admin_api, viewer_api, steady, cat):
        last_week = (timezone.now() - timedelta(days=7)).isoformat()
        before = viewer_api.get(api("oncall-rotation-oncall", steady.pk), {"at": last_week}).json()
        response = admin_api.patch(api("oncall-rotation-detail", steady.pk),
                                   {"participants": ["cat"], "name": "Steady two", "note": "cat joins"},
                                   format="json")  # fmt: skip
        assert response.status_code == 200, response.json()
        assert response.json()["name"] == "Steady two"
        after = viewer_api.get(api("oncall-rotation-oncall", steady.pk), {"at": last_week}).json()
        assert after["primary"] == before["primary"]
        versions = viewer_api.get(api("oncall-rotation-versions", steady.pk)).json()["results"]
        assert [v["participants"] for v in versions] == [["ann"], ["cat"]]
        assert versions[1]["note"] == "cat joins"

    @pytest.mark.parametrize("effective_from", ["2020-01-01T00:00:00Z", "2030-01-01T00:00:00", "soon"])
    def test_a_change_in_the_past_or_without_offset_is_refused(self, admin_api, steady, effective_from):
        change = {"participants": ["ann"], "effective_from": effective_from}
        response = admin_api.patch(api("oncall-rotation-detail", steady.pk), change, format="json")
        assert response.status_code == 400
        assert response.json()["field"] == "effective_from"

    def test_delete_archives(self, admin_api, viewer_api, steady):
        assert admin_api.delete(api("oncall-rotation-detail", steady.pk)).status_code == 204
        assert Rotation.objects.get(pk=steady.pk).archived_at is not None
        assert "Steady" not in [row["name"] for row in viewer_api.get(api("oncall-now")).json()["results"]]

    def test_an_archived_rotation_still_reads_by_id_and_refuses_changes(self, admin_api, viewer_api, steady):
        url = api("oncall-rotation-detail", steady.pk)
        assert admin_api.delete(url).status_code == 204
        read = viewer_api.get(url)
        assert (read.status_code, read.json()["name"]) == (200, "Steady")
        assert read.json()["archived_at"] is not None
        assert admin_api.patch(url, {}, format="json").status_code == 200
        renamed = admin_api.patch(url, {"name": "Steadier"}, format="json")
        assert (renamed.status_code, renamed.json()["field"]) == (400, "rotation")
        assert admin_api.delete(url).status_code == 400
        assert viewer_api.get(api("oncall-rotation-detail", steady.pk + 1000)).status_code == 404

    def test_list_query_count_is_constant(self, viewer_api, make_rotation):
        make_rotation("R0")
        viewer_api.get(api("oncall-rotation-list"))
        with CaptureQueriesContext(connection) as one:
            viewer_api.get(api("oncall-rotation-list"))
        for n in range(1, 6):
            make_rotation(f"R{n}")
        with CaptureQueriesContext(connection) as six:
            assert viewer_api.get(api("oncall-rotation-list")).json()["count"] == 7
        assert len(six) == len(one)


class TestOverrides:
    def payload(self, target, **changes):
        start = timezone.now() + timedelta(hours=1)
        return {"rotation": target.pk, "layer": "primary", "user": "cat", "start": start.isoformat(),
                "end": (start + timedelta(hours=2)).isoformat(), "reason": "Cover"} | changes  # fmt: skip

    def test_a_person_on_the_rotation_adds_one_audited_with_them_as_actor(self, steady, ann):
        client = as_user(ann)
        response = client.post(api("oncall-override-list"), self.payload(steady), format="json")
        assert response.status_code == 201, response.json()
        override = Override.objects.get()
        assert LogEntry.objects.get_for_object(override).get().actor == ann

    def test_a_viewer_and_an_outsider_are_refused(self, token_client, steady):
        assert token_client(Role.VIEWER).post(api("oncall-override-list"), self.payload(steady),
                                              format="json").status_code == 403  # fmt: skip
        outsider = token_client(Role.RESPONDER, username="olly")
        response = outsider.post(api("oncall-override-list"), self.payload(steady), format="json")
        assert response.status_code == 403
        assert response.json()["field"] == "rotation"

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"end": "2020-01-01T00:00:00Z"}, "end"),
            ({"start": "2020-01-01T00:00:00Z"}, "start"),
            ({"start": "2030-01-01T00:00:00"}, "start"),
            ({"end": "9999-12-31T00:00:00Z"}, "end"),
            ({"user": "nobody"}, "user"),
            ({"layer": "tertiary"}, "layer"),
            ({"rotation": 999}, "rotation"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(self, admin_api, steady, people, changes, field):
        response = admin_api.post(api("oncall-override-list"), self.payload(steady, **changes), format="json")
        assert response.status_code == 400
        assert field in response.json()["errors"]

    def test_longer_than_28_days_is_a_400_naming_end(self, admin_api, steady, people, time_machine):
        time_machine.move_to(utc(2026, 11, 20, 12), tick=False)
        payload = self.payload(steady, start="2026-11-27T10:00:00Z", end="2027-11-27T10:00:00Z")
        response = admin_api.post(api("oncall-override-list"), payload, format="json")
        assert (response.status_code, response.json()["field"]) == (400, "end")
        assert "28 d" in response.json()["errors"]["end"][0]
        payload["end"] = "2026-12-25T10:00:00Z"
        assert admin_api.post(api("oncall-override-list"), payload, format="json").status_code == 201

    def test_overlap_is_a_400_naming_start(self, admin_api, steady, people):
        admin_api.post(api("oncall-override-list"), self.payload(steady), format="json")
        response = admin_api.post(api("oncall-override-list"), self.payload(steady, user="ben"), format="json")
        assert response.status_code == 400
        assert response.json()["field"] == "start"
        assert response.json()["overlaps"] == Override.objects.get().pk

    @pytest.mark.parametrize(("layer", "user", "holds"), [("secondary", "ann", "primary"),
                                                          ("primary", "ben", "secondary")])  # fmt: skip
    def test_one_person_on_both_layers_is_a_400_naming_user(self, admin_api, rotation, people, time_machine, layer,
                                                            user, holds):  # fmt: skip
        """ann is primary and ben secondary in the week of 5 January."""
        time_machine.move_to(utc(2026, 1, 6, 12), tick=False)
        payload = {"rotation": rotation.pk, "layer": layer, "user": user, "start": "2026-01-08T10:00:00Z",
                   "end": "2026-01-08T12:00:00Z"}  # fmt: skip
        response = admin_api.post(api("oncall-override-list"), payload, format="json")
        assert response.status_code == 400
        assert response.json()["errors"] == {"user": [
            f"user: {user} is {holds} during part of that time (Thu 08 Jan 10:00–12:00 UTC): one person cannot be "
            "both primary and secondary."
        ]}  # fmt: skip
        assert not Override.objects.exists()
        covered = admin_api.post(api("oncall-override-list"), payload | {"user": "cat"}, format="json")
        assert covered.status_code == 201, covered.json()
        moved = admin_api.patch(api("oncall-override-detail", covered.json()["id"]), {"user": user}, format="json")
        assert (moved.status_code, moved.json()["field"]) == (400, "user")

    def test_list_filters_update_and_delete(self, admin_api, viewer_api, steady, people):
        created = admin_api.post(api("oncall-override-list"), self.payload(steady), format="json").json()
        assert [o["id"] for o in viewer_api.get(api("oncall-override-list"), {"user": "cat"}).json()["results"]] == [
            created["id"]
        ]
        assert viewer_api.get(api("oncall-override-list"), {"user": "ben"}).json()["count"] == 0
        assert (
            viewer_api.get(api("oncall-override-list"), {"rotation": steady.pk, "layer": "secondary"}).json()["count"]
            == 0
        )
        patched = admin_api.patch(api("oncall-override-detail", created["id"]), {"user": "ann"}, format="json")
        assert patched.json()["user"] == "ann"
        assert admin_api.delete(api("oncall-override-detail", created["id"])).status_code == 204
        assert not Override.objects.exists()


class TestSwaps:
    @pytest.fixture
    def weekly(self, make_rotation, ann, ben, cat):
        """ann and ben take turns as primary; cat backs them up, so a trade leaves each week a secondary."""
        return make_rotation("Weekly", rrule="FREQ=WEEKLY", start_date=(timezone.now() - timedelta(days=14)).date(),
                             participants=[ann, ben], secondary_participants=[cat])  # fmt: skip

    def next_shift(self, rotation, person):
        now = timezone.now()
        shifts = rotation_schedule(rotation, start=now, end=now + timedelta(days=28)).planned(layer=Layer.PRIMARY)
        return next(s for s in shifts if s.person == person and s.start > now)

    def test_request_accept_and_refusals(self, weekly, ann, ben, cat, viewer_api):
        mine, theirs = self.next_shift(weekly, ann), self.next_shift(weekly, ben)
        payload = {"rotation": weekly.pk, "shift_start": mine.start.isoformat(), "counterparty": "ben",
                   "counterparty_shift_start": theirs.start.isoformat(), "note": "Trade?"}  # fmt: skip
        assert viewer_api.post(api("oncall-swap-list"), payload, format="json").status_code == 403
        response = as_user(ann).post(api("oncall-swap-list"), payload, format="json")
        assert response.status_code == 201, response.json()
        swap_id = response.json()["id"]
        assert as_user(cat).post(api("oncall-swap-accept", swap_id)).status_code == 403
        accepted = as_user(ben).post(api("oncall-swap-accept", swap_id))
        assert accepted.json()["status"] == "accepted"
        assert Override.objects.filter(swap_id=swap_id).count() == 2
        listed = viewer_api.get(api("oncall-swap-list"), {"status": "accepted", "user": "ann"}).json()["results"]
        assert [row["id"] for row in listed] == [swap_id]
        assert as_user(ann).post(api("oncall-swap-cancel", swap_id)).status_code == 409

    def test_a_shift_that_is_not_theirs_is_a_400_naming_the_field(self, weekly, ann, ben):
        mine = self.next_shift(weekly, ann)
        payload = {"rotation": weekly.pk, "shift_start": mine.start.isoformat(), "counterparty": "ben",
                   "counterparty_shift_start": mine.start.isoformat()}  # fmt: skip
        response = as_user(ann).post(api("oncall-swap-list"), payload, format="json")
        assert response.status_code == 400
        assert response.json()["field"] == "counterparty_shift_start"
        assert not Swap.objects.exists()

    def test_accepting_a_trade_that_makes_someone_their_own_backup_is_a_400(self, rotation, ben, cat, time_machine):
        """ann, ben, cat in turn from 5 January, the next person as secondary: cat backs ben up from the 12th."""
        time_machine.move_to(utc(2026, 1, 6, 12), tick=False)
        swap = Swap.objects.create(rotation=rotation, requester=cat, start=utc(2026, 1, 19, 9),
                                   end=utc(2026, 1, 26, 9), counterparty=ben, counterparty_start=utc(2026, 1, 12, 9),
                                   counterparty_end=utc(2026, 1, 19, 9))  # fmt: skip
        response = as_user(ben).post(api("oncall-swap-accept", swap.pk))
        assert response.status_code == 400
        assert response.json()["field"] == "counterparty_shift_start"
        assert "cat is secondary during part of that time" in response.json()["detail"]
        assert (Swap.objects.get().status, Override.objects.count()) == (Swap.Status.PENDING, 0)


class TestHandoffs:
    @pytest.fixture
    def handoff(self, steady, ann, ben):
        handoff = Handoff.objects.create(rotation=steady, at=timezone.now(), outgoing=ben, incoming=ann)
        HandoffItem.objects.create(handoff=handoff, side="incoming", position=0, text="Verify VPN and kubectl access")
        HandoffItem.objects.create(handoff=handoff, side="outgoing", position=0, text="Transfer PagerDuty")
        return handoff

    def test_list_detail_and_ticks(self, viewer_api, handoff, ann):
        listed = viewer_api.get(api("oncall-handoff-list"), {"open": "true", "rotation": handoff.rotation_id}).json()
        assert [row["id"] for row in listed["results"]] == [handoff.pk]
        assert [i["text"] for i in listed["results"][0]["items"]] == ["Verify VPN and kubectl access",
                                                                      "Transfer PagerDuty"]  # fmt: skip
        mine, theirs = handoff.items.get(side="incoming"), handoff.items.get(side="outgoing")
        client = as_user(ann)
        ticked = client.patch(api("oncall-handoff-item", handoff.pk, mine.pk), {"done": True}, format="json")
        assert ticked.status_code == 200
        assert ticked.json()["done_by"] == "ann"
        refused = client.patch(api("oncall-handoff-item", handoff.pk, theirs.pk), {"done": True}, format="json")
        assert refused.status_code == 403
        assert refused.json()["field"] == "item"
        bad = client.patch(api("oncall-handoff-item", handoff.pk, mine.pk), {"done": "perhaps"}, format="json")
        assert bad.status_code == 400
        assert bad.json()["field"] == "done"

    def test_list_query_count_is_constant(self, viewer_api, handoff, steady, ann, ben):
        viewer_api.get(api("oncall-handoff-list"))
        with CaptureQueriesContext(connection) as one:
            viewer_api.get(api("oncall-handoff-list"))
        for days in range(1, 6):
            extra = Handoff.objects.create(rotation=steady, at=handoff.at - timedelta(days=days), incoming=ann)
            HandoffItem.objects.create(handoff=extra, side="incoming", position=0, text="Check recent alerts")
        with CaptureQueriesContext(connection) as six:
            assert viewer_api.get(api("oncall-handoff-list")).json()["count"] == 6
        assert len(six) == len(one)


class TestFeeds:
    def test_issue_list_fetch_and_revoke(self, token_client, client, steady):
        owner = token_client(Role.VIEWER, username="olga")
        issued = owner.post(api("oncall-feed-list"), {"rotation": steady.pk}, format="json")
        assert issued.status_code == 201
        url = issued.json()["url"]
        assert url.startswith("http://testserver/oncall/calendar/")
        assert [feed["rotation"] for feed in owner.get(api("oncall-feed-list")).json()["results"]] == [steady.pk]
        assert token_client(Role.VIEWER, username="else").get(api("oncall-feed-list")).json()["count"] == 0
        assert client.get(url.removeprefix("http://testserver")).status_code == 200
        feed_id = issued.json()["id"]
        assert (
            token_client(Role.RESPONDER, username="rex").delete(api("oncall-feed-detail", feed_id)).status_code == 403
        )
        assert owner.delete(api("oncall-feed-detail", feed_id)).status_code == 204
        assert not CalendarFeed.objects.exists()
        assert client.get(url.removeprefix("http://testserver")).status_code == 404


def test_schema_lists_the_on_call_endpoints(viewer_api, db):
    paths = viewer_api.get(reverse("schema"), {"format": "json"}).json()["paths"]
    assert {
        "/api/v1/oncall/now/",
        "/api/v1/oncall/rotations/{id}/oncall/",
        "/api/v1/oncall/overrides/",
        "/api/v1/oncall/swaps/{id}/accept/",
        "/api/v1/oncall/handoffs/{id}/items/{item_pk}/",
        "/api/v1/oncall/feeds/",
    } <= set(paths)


def test_a_rotation_reads_with_the_version_in_force(viewer_api, rotation):
    body = viewer_api.get(api("oncall-rotation-detail", rotation.pk)).json()
    assert body["current_version"]["start_date"] == str(date(2026, 1, 5))


class TestListQueryCounts:
    """Every list endpoint reads a page in a constant number of queries, however many rows it holds."""

    def add_rows(self, rotation, people, admin_user, n: int, offset: int) -> None:
        now = utc(2026, 1, 5, 12)
        for i in range(offset, offset + n):
            start = utc(2026, 2, 1) + timedelta(days=i)
            override_create(rotation=rotation, layer=Layer.PRIMARY, user=people[i % 3], start=start,
                            end=start + timedelta(hours=6), actor=admin_user, now=now)  # fmt: skip
            Swap.objects.create(rotation=rotation, requester=people[0], counterparty=people[1], start=start,
                                end=start + timedelta(days=1), counterparty_start=start + timedelta(days=7),
                                counterparty_end=start + timedelta(days=8))  # fmt: skip
            rotation_version_add(rotation=rotation, actor=admin_user, participants=people[: 1 + i % 3],
                                 effective_from=utc(2026, 1, 6) + timedelta(days=i * 50), now=now)  # fmt: skip
            CalendarFeed.objects.create(owner=admin_user, rotation=Rotation.objects.create(name=f"Feed {i}"),
                                        token_hash=f"{i:064d}")  # fmt: skip

    @pytest.mark.parametrize("name", ["oncall-override-list", "oncall-swap-list", "oncall-rotation-versions",
                                      "oncall-feed-list"])  # fmt: skip
    def test_constant(self, name, rotation, people, admin_user):
        client = as_user(admin_user)
        url = api(name, rotation.pk) if name == "oncall-rotation-versions" else api(name)
        self.add_rows(rotation, people, admin_user, 1, 0)
        client.get(url)
        with CaptureQueriesContext(connection) as one:
            first = client.get(url).json()
        self.add_rows(rotation, people, admin_user, 5, 1)
        with CaptureQueriesContext(connection) as six:
            assert client.get(url).json()["count"] > first["count"]
        assert len(six) == len(one)


class TestNowCached:
    """On-call now is cached until its first shift or override edge and dropped on any write (issue 13)."""

    def test_an_override_and_a_contact_change_are_seen_by_the_next_request(self, viewer_api, steady, cat, admin_user):
        def primary() -> dict:
            body = viewer_api.get(api("oncall-now")).json()
            return next(row for row in body["results"] if row["name"] == "Steady")["primary"]

        assert primary()["person"]["username"] == "ann"
        with CaptureQueriesContext(connection) as cached:
            assert primary()["person"]["username"] == "ann"
        assert not [query for query in cached.captured_queries if "oncall_" in query["sql"]]
        now = timezone.now()
        override_create(rotation=steady, layer=Layer.PRIMARY, user=cat, start=now - timedelta(minutes=1),
                        end=now + timedelta(hours=2), actor=admin_user)  # fmt: skip
        assert primary()["person"]["username"] == "cat"
        cat.phone = "+14155550199"
        cat.save()
        assert primary()["person"]["phone"] == "+14155550199"

    def test_the_answer_is_recomputed_at_the_next_handoff(self, viewer_api, make_rotation, ann, ben, time_machine):
        time_machine.move_to(utc(2026, 1, 12, 8, 59), tick=False)  # a minute before Monday's 09:00 handoff
        make_rotation("Weekly", participants=[ann, ben])
        first = viewer_api.get(api("oncall-now")).json()
        row = next(row for row in first["results"] if row["name"] == "Weekly")
        time_machine.move_to(utc(2026, 1, 12, 9, 0), tick=False)
        after = next(row for row in viewer_api.get(api("oncall-now")).json()["results"] if row["name"] == "Weekly")
        assert (row["primary"]["person"]["username"], after["primary"]["person"]["username"]) == ("ann", "ben")
        assert after["at"] == "2026-01-12T09:00:00Z"
