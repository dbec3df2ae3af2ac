"""On-call pages: who is on call, week and month schedule, overrides, swaps, handoffs, rotation editing, feeds.

Pages read the real clock, so these rotations start in the past and name people by layer (ann primary, ben
secondary) where a page must show who is on call now.
"""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from oncall.models import CalendarFeed, Handoff, HandoffItem, Layer, Override, Rotation, Swap
from oncall.selectors import oncall_at, rotation_schedule
from oncall.services import swap_request
from portal.accounts.roles import Role
from tests.oncall.conftest import utc


@pytest.fixture
def steady(make_rotation, ann, ben):
    """ann always primary, ben always secondary: daily handoffs since three weeks ago."""
    start = (timezone.now() - timedelta(days=21)).date()
    return make_rotation("Steady", rrule="FREQ=DAILY", start_date=start, participants=[ann],
                         secondary_participants=[ben])  # fmt: skip


@pytest.fixture
def viewer(make_user):
    return make_user(Role.VIEWER, username="vera")


def hx(client, url, data=None):
    return client.post(url, data or {}, HTTP_HX_REQUEST="true")


def local_input(at):
    return timezone.localtime(at, timezone.get_fixed_timezone(0)).strftime("%Y-%m-%dT%H:%M")


class TestIndex:
    def test_viewer_sees_who_is_on_call_with_contact_methods(self, client, steady, viewer):
        client.force_login(viewer)
        html = client.get(reverse("oncall-index")).content.decode()
        assert "Steady" in html
        row = re.search(rf'<tr>\s*<td><a href="/oncall/rotations/{steady.pk}/">Steady</a>.*?</tr>', html, re.S)[0]
        for shown in ("Ann", "+14155550101", "@ann", "ann@example.com", "Ben", "@ben"):
            assert shown in row

    def test_your_next_shifts_give_their_end_date_and_year(self, client, rotation, ben, time_machine):
        time_machine.move_to(utc(2026, 1, 6, 12), tick=False)  # ann's week; ben's starts Monday 12 January
        client.force_login(ben)
        html = client.get(reverse("oncall-index")).content.decode()
        assert "Primary · Mon 12 Jan 2026 09:00 – Mon 19 Jan 2026 09:00 UTC" in html

    def test_query_count_is_constant(self, client, make_rotation, people, viewer):
        client.force_login(viewer)
        make_rotation("R0")
        client.get(reverse("oncall-index"))
        with CaptureQueriesContext(connection) as one:
            client.get(reverse("oncall-index"))
        for n in range(1, 6):
            make_rotation(f"R{n}")
        with CaptureQueriesContext(connection) as six:
            assert len(client.get(reverse("oncall-index")).context["board"]) == 7  # and "Platform on-call"
        assert len(six) == len(one)

    def test_the_nav_links_to_on_call(self, client, viewer):
        client.force_login(viewer)
        html = client.get(reverse("dashboard")).content.decode()
        assert f'href="{reverse("oncall-index")}"' in html


class TestSchedule:
    def test_week_view_shows_both_layers_and_who_is_on_call_now(self, client, steady, viewer):
        client.force_login(viewer)
        html = client.get(reverse("oncall-rotation", args=[steady.pk])).content.decode()
        assert html.count('class="day') == 7
        # One stretch a day, not a segment per daily shift: the same person back to back is shown joined.
        assert html.count("P</span> Ann · all day") == 7
        assert html.count("S</span> Ben · all day") == 7
        assert re.search(r'id="now-primary">.*?Ann', html, re.S)

    def test_month_view_shows_whole_weeks(self, client, steady, viewer):
        client.force_login(viewer)
        response = client.get(reverse("oncall-rotation", args=[steady.pk]), {"view": "month", "start": "2026-03-10"})
        html = response.content.decode()
        assert "March 2026" in html
        assert html.count('class="day') == 42  # whole weeks: Mon 23 Feb .. Sun 5 Apr 2026
        assert 'data-day="2026-02-23"' in html
        assert 'data-day="2026-04-05"' in html

    def test_htmx_navigation_returns_the_schedule_only(self, client, steady, viewer):
        client.force_login(viewer)
        response = client.get(reverse("oncall-rotation", args=[steady.pk]), {"view": "week", "start": "2026-12-01"},
                              HTTP_HX_REQUEST="true", HTTP_HX_TARGET="schedule")  # fmt: skip
        html = response.content.decode()
        assert html.lstrip().startswith('<section class="card" id="schedule"')
        assert "week of Mon 30 Nov 2026" in html
        assert "<header" not in html

    @pytest.mark.parametrize("start", ["9999-12-31", "0001-01-01", "not-a-date"])
    def test_a_hand_edited_start_falls_back_to_this_week(self, client, steady, viewer, start):
        client.force_login(viewer)
        response = client.get(reverse("oncall-rotation", args=[steady.pk]), {"view": "month", "start": start})
        assert response.status_code == 200
        assert response.context["focus_start"] == timezone.now().date().replace(day=1)

    def test_a_daylight_saving_week_is_laid_out_in_local_days(self, client, make_rotation, viewer, people):
        rotation = make_rotation("London", zone="Europe/London")
        client.force_login(viewer)
        html = client.get(reverse("oncall-rotation", args=[rotation.pk]), {"start": "2026-03-30"}).content.decode()
        # Monday 30 March is the first Monday on summer time: the handoff is at 09:00 London all the same.
        assert re.search(r'data-day="2026-03-30">.*?until 09:00.*?from 09:00', html, re.S)


class TestOverrides:
    def test_a_person_on_the_rotation_adds_one_and_the_schedule_shows_it(self, client, steady, ann, cat):
        client.force_login(ann)
        start = timezone.now() + timedelta(hours=2)
        response = hx(client, reverse("oncall-override-create", args=[steady.pk]),
                      {"layer": "primary", "user": "cat", "start": local_input(start),
                       "end": local_input(start + timedelta(hours=3)), "reason": "Dentist"})  # fmt: skip
        assert response.status_code == 200
        html = response.content.decode()
        assert html.lstrip().startswith('<div id="rotation-body"')
        assert "Dentist" in html
        assert "override</span>" in html
        assert Override.objects.get().user == cat

    @pytest.mark.parametrize(
        ("change", "field"), [({"end": ""}, "end"), ({"user": "nobody"}, "user"), ({"layer": "tertiary"}, "layer")]
    )
    def test_bad_input_is_a_400_naming_the_field(self, client, steady, ann, change, field):
        client.force_login(ann)
        start = timezone.now() + timedelta(hours=2)
        data = {"layer": "primary", "user": "ben", "start": local_input(start),
                "end": local_input(start + timedelta(hours=1))} | change  # fmt: skip
        response = hx(client, reverse("oncall-override-create", args=[steady.pk]), data)
        assert response.status_code == 400
        assert response.context["override_form"].errors[field]
        assert not Override.objects.exists()

    def test_a_year_long_one_is_a_400_naming_end(self, client, steady, ann, time_machine):
        time_machine.move_to(utc(2026, 11, 20, 12), tick=False)
        client.force_login(ann)
        data = {"layer": "primary", "user": "ben", "start": "2026-11-27T10:00", "end": "2027-11-27T10:00"}
        response = hx(client, reverse("oncall-override-create", args=[steady.pk]), data)
        assert response.status_code == 400
        assert "28 d" in response.context["override_form"].errors["end"][0]
        assert not Override.objects.exists()

    def test_the_list_writes_an_end_on_another_day_with_its_date(self, client, rotation, cat, viewer, time_machine):
        time_machine.move_to(utc(2026, 11, 20, 12), tick=False)
        Override.objects.create(rotation=rotation, user=cat, start=utc(2026, 11, 25, 10), end=utc(2026, 11, 25, 14))
        # Made before overrides were bounded: still listed as what it is.
        Override.objects.create(rotation=rotation, user=cat, start=utc(2026, 11, 27, 10), end=utc(2027, 11, 27, 10))
        client.force_login(viewer)
        html = client.get(reverse("oncall-rotation", args=[rotation.pk])).content.decode()
        assert ">Wed 25 Nov 2026 10:00–14:00<" in html
        assert ">Fri 27 Nov 2026 10:00 – Sat 27 Nov 2027 10:00<" in html

    def test_an_overlap_is_a_400_naming_start(self, client, steady, ann, cat):
        client.force_login(ann)
        start = timezone.now() + timedelta(hours=2)
        data = {"layer": "primary", "user": "cat", "start": local_input(start),
                "end": local_input(start + timedelta(hours=2))}  # fmt: skip
        hx(client, reverse("oncall-override-create", args=[steady.pk]), data)
        response = hx(client, reverse("oncall-override-create", args=[steady.pk]), data)
        assert response.status_code == 400
        assert "overlaps" in response.context["override_form"].errors["start"][0]

    def test_the_secondary_covering_the_primary_is_a_400_naming_user(self, client, steady, ann, ben):
        client.force_login(ann)
        start = timezone.now() + timedelta(hours=2)
        data = {"layer": "primary", "user": "ben", "start": local_input(start),
                "end": local_input(start + timedelta(hours=2))}  # fmt: skip
        response = hx(client, reverse("oncall-override-create", args=[steady.pk]), data)
        assert response.status_code == 400
        [error] = response.context["override_form"].errors["user"]
        assert error.startswith("user: ben is secondary during part of that time (")
        assert "one person cannot be both primary and secondary." in response.content.decode()
        assert not Override.objects.exists()

    def test_a_viewer_and_an_outsider_are_refused(self, client, steady, viewer, make_user):
        start = timezone.now() + timedelta(hours=2)
        data = {"layer": "primary", "user": "ben", "start": local_input(start),
                "end": local_input(start + timedelta(hours=1))}  # fmt: skip
        for user in (viewer, make_user(Role.RESPONDER, username="olly")):
            client.force_login(user)
            assert hx(client, reverse("oncall-override-create", args=[steady.pk]), data).status_code == 403
        assert not Override.objects.exists()

    def test_an_admin_adds_and_withdraws_one(self, client, steady, admin_user, cat):
        client.force_login(admin_user)
        start = timezone.now() + timedelta(days=1)
        client.post(reverse("oncall-override-create", args=[steady.pk]),
                    {"layer": "secondary", "user": "cat", "start": local_input(start),
                     "end": local_input(start + timedelta(hours=1))})  # fmt: skip
        override = Override.objects.get()
        assert override.layer == Layer.SECONDARY
        response = client.post(reverse("oncall-override-delete", args=[override.pk]))
        assert response.status_code == 302
        assert not Override.objects.exists()


class TestSwaps:
    @pytest.fixture
    def weekly(self, make_rotation, ann, ben, cat):
        """ann and ben take turns as primary; cat backs them up, so a trade leaves each week a secondary."""
        start = (timezone.now() - timedelta(days=14)).date()
        return make_rotation("Weekly", rrule="FREQ=WEEKLY", start_date=start, participants=[ann, ben],
                             secondary_participants=[cat])  # fmt: skip

    def upcoming(self, rotation, person):
        now = timezone.now()
        shifts = rotation_schedule(rotation, start=now, end=now + timedelta(days=28)).planned(layer=Layer.PRIMARY)
        return next(s for s in shifts if s.person == person and s.start > now)

    def test_a_person_on_the_rotation_requests_and_the_other_accepts(self, client, weekly, ann, ben):
        mine, theirs = self.upcoming(weekly, ann), self.upcoming(weekly, ben)
        client.force_login(ann)
        page = client.get(reverse("oncall-rotation", args=[weekly.pk]))
        form = page.context["swap_form"]
        assert [value for value, _ in form.fields["shift"].choices][0] == f"primary|{mine.start.isoformat()}"
        response = hx(client, reverse("oncall-swap-request", args=[weekly.pk]),
                      {"shift": f"primary|{mine.start.isoformat()}",
                       "counterparty_shift": f"primary|ben|{theirs.start.isoformat()}"})  # fmt: skip
        assert response.status_code == 200, response.content.decode()[:500]
        swap = Swap.objects.get()
        client.force_login(ben)
        assert hx(client, reverse("oncall-swap-act", args=[swap.pk, "accept"])).status_code == 200
        assert oncall_at(weekly, at=mine.start) == ben
        assert oncall_at(weekly, at=theirs.start) == ann

    def test_the_form_offers_only_shifts_the_parties_still_hold(self, client, make_rotation, make_user, ann, ben, cat,
                                                                 time_machine):  # fmt: skip
        """cat traded her week of the 19th for ben's of the 12th: neither week is offered again, on either side."""
        time_machine.move_to(utc(2026, 1, 6, 12), tick=False)
        rotation = make_rotation("Traded", secondary_participants=[make_user(Role.RESPONDER, username="dan")])
        swap = swap_request(rotation=rotation, requester=cat, shift_start=utc(2026, 1, 19, 9), counterparty=ben,
                            counterparty_shift_start=utc(2026, 1, 12, 9))  # fmt: skip
        client.force_login(ben)
        assert hx(client, reverse("oncall-swap-act", args=[swap.pk, "accept"])).status_code == 200
        client.force_login(cat)
        form = client.get(reverse("oncall-rotation", args=[rotation.pk])).context["swap_form"]
        assert form.fields["shift"].choices == []
        assert [value for value, _ in form.fields["counterparty_shift"].choices if value.startswith("primary")] == [
            "primary|ann|2026-01-26T09:00:00+00:00",
            "primary|ben|2026-02-02T09:00:00+00:00",
        ]
        response = hx(client, reverse("oncall-swap-request", args=[rotation.pk]),
                      {"shift": "primary|2026-01-19T09:00:00+00:00",
                       "counterparty_shift": "primary|ann|2026-01-26T09:00:00+00:00"})  # fmt: skip
        assert response.status_code == 400
        assert "shift" in response.context["swap_form"].errors
        assert Swap.objects.count() == 1

    def test_someone_not_on_the_rotation_cannot_request(self, client, weekly, viewer, ben):
        client.force_login(viewer)
        theirs = self.upcoming(weekly, ben)
        response = hx(client, reverse("oncall-swap-request", args=[weekly.pk]),
                      {"shift": "x", "counterparty_shift": f"primary|ben|{theirs.start.isoformat()}"})  # fmt: skip
        assert response.status_code == 403

    def test_only_the_other_party_or_an_admin_accepts(self, client, weekly, ann, ben, cat, admin_user):
        swap = swap_request(rotation=weekly, requester=ann, shift_start=self.upcoming(weekly, ann).start,
                            counterparty=ben, counterparty_shift_start=self.upcoming(weekly, ben).start)  # fmt: skip
        client.force_login(cat)
        assert hx(client, reverse("oncall-swap-act", args=[swap.pk, "accept"])).status_code == 403
        client.force_login(admin_user)
        assert hx(client, reverse("oncall-swap-act", args=[swap.pk, "decline"])).status_code == 200
        assert Swap.objects.get().status == Swap.Status.DECLINED

    def test_accepting_a_trade_that_makes_someone_their_own_backup_shows_why(self, client, make_rotation, ann, ben):
        """Without a secondary order ann and ben back each other up, so neither can take the other's week."""
        pair = make_rotation("Pair", rrule="FREQ=WEEKLY", start_date=(timezone.now() - timedelta(days=14)).date(),
                             participants=[ann, ben])  # fmt: skip
        mine, theirs = self.upcoming(pair, ann), self.upcoming(pair, ben)
        swap = Swap.objects.create(rotation=pair, requester=ann, start=mine.start, end=mine.end, counterparty=ben,
                                   counterparty_start=theirs.start, counterparty_end=theirs.end)  # fmt: skip
        client.force_login(ben)
        response = hx(client, reverse("oncall-swap-act", args=[swap.pk, "accept"]))
        assert response.status_code == 400
        assert "one person cannot be both primary and secondary." in response.content.decode()
        assert (Swap.objects.get().status, Override.objects.count()) == (Swap.Status.PENDING, 0)


class TestHandoffPage:
    @pytest.fixture
    def handoff(self, steady, ann, ben):
        handoff = Handoff.objects.create(rotation=steady, at=timezone.now(), outgoing=ben, incoming=ann)
        HandoffItem.objects.create(handoff=handoff, side="outgoing", position=0, text="Transfer PagerDuty")
        HandoffItem.objects.create(handoff=handoff, side="incoming", position=0, text="Verify VPN and kubectl access")
        return handoff

    def test_each_ticks_their_own_items_in_place(self, client, handoff, ann, ben):
        client.force_login(ann)
        page = client.get(reverse("oncall-handoff", args=[handoff.pk])).content.decode()
        assert "Tick: Verify VPN and kubectl access" in page
        assert "Tick: Transfer PagerDuty" not in page  # ben's item: shown, not tickable by ann
        mine, theirs = handoff.items.get(side="incoming"), handoff.items.get(side="outgoing")
        response = hx(client, reverse("oncall-handoff-item", args=[handoff.pk, mine.pk]), {"done": "1"})
        assert response.status_code == 200
        assert response.content.decode().lstrip().startswith('<div id="handoff-checklist"')
        refused = hx(client, reverse("oncall-handoff-item", args=[handoff.pk, theirs.pk]), {"done": "1"})
        assert refused.status_code == 403
        assert "only ben ticks" in refused.content.decode()
        client.force_login(ben)
        hx(client, reverse("oncall-handoff-item", args=[handoff.pk, theirs.pk]), {"done": "1"})
        handoff.refresh_from_db()
        assert handoff.acknowledged_at is not None

    def test_viewers_read_it(self, client, handoff, viewer):
        client.force_login(viewer)
        html = client.get(reverse("oncall-handoff", args=[handoff.pk])).content.decode()
        assert "Verify VPN and kubectl access" in html
        assert "Tick:" not in html


class TestRotationForms:
    def form(self, **changes):
        return {"name": "Data on-call", "timezone": "Europe/London", "frequency": "weekly", "every": "1",
                "weekday": "MO", "handoff_time": "09:00", "start_date": "2026-01-05", "participants": "ann, ben",
                "secondary_participants": ""} | changes  # fmt: skip

    def test_admin_creates_a_rotation(self, client, admin_user, people):
        client.force_login(admin_user)
        response = client.post(reverse("oncall-rotation-create"), self.form())
        rotation = Rotation.objects.get(name="Data on-call")
        assert response.status_code == 302
        version = rotation.versions.get()
        assert (version.timezone, version.handoff_rrule) == ("Europe/London", "FREQ=WEEKLY;BYDAY=MO")

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"participants": "ann, nobody"}, "participants"),
            ({"frequency": "custom", "custom_rrule": "FREQ=NEVER"}, "custom_rrule"),
            ({"frequency": "custom", "custom_rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "custom_rrule"),
            ({"frequency": "custom", "custom_rrule": ""}, "custom_rrule"),
            ({"start_date": "someday"}, "start_date"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(self, client, admin_user, people, change, field):
        client.force_login(admin_user)
        response = client.post(reverse("oncall-rotation-create"), self.form(**change))
        assert response.status_code == 400
        assert field in response.context["form"].errors
        assert not Rotation.objects.filter(name="Data on-call").exists()

    def test_one_person_on_both_layers_in_a_shift_is_a_400_naming_the_field(self, client, admin_user, people):
        client.force_login(admin_user)
        response = client.post(reverse("oncall-rotation-create"),
                               self.form(participants="ann", secondary_participants="ann"))  # fmt: skip
        assert response.status_code == 400
        assert response.context["form"].errors["secondary_participants"]
        assert not Rotation.objects.filter(name="Data on-call").exists()

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.RESPONDER, Role.INCIDENT_COMMANDER])
    def test_only_admins_create_or_edit(self, client, make_user, steady, role):
        client.force_login(make_user(role, username="someone"))
        assert client.get(reverse("oncall-rotation-create")).status_code == 403
        assert client.post(reverse("oncall-rotation-edit", args=[steady.pk]), {}).status_code == 403

    def test_editing_the_order_adds_a_version_from_the_next_handoff(self, client, admin_user, steady, cat, ann):
        client.force_login(admin_user)
        page = client.get(reverse("oncall-rotation-edit", args=[steady.pk]))
        assert page.context["form"].initial["participants"] == "ann"
        data = {key: value for key, value in page.context["form"].initial.items() if value is not None}
        data |= {"participants": "cat", "secondary_participants": "ben", "start_date": str(data["start_date"]),
                 "handoff_time": "09:00", "lead": "", "services": []}  # fmt: skip
        response = client.post(reverse("oncall-rotation-edit", args=[steady.pk]), data)
        assert response.status_code == 302, response.context["form"].errors
        new = steady.versions.order_by("-effective_from").first()
        assert [p.user for p in new.participants.filter(layer="primary")] == [cat]
        assert new.effective_from > timezone.now()
        assert oncall_at(steady, at=timezone.now()) == ann  # the running shift stays as it was

    def test_a_refused_schedule_change_keeps_the_details_unchanged_too(self, client, admin_user, steady):
        client.force_login(admin_user)
        initial = client.get(reverse("oncall-rotation-edit", args=[steady.pk])).context["form"].initial
        data = {key: value for key, value in initial.items() if value is not None}
        data |= {"name": "Renamed", "participants": "ann", "start_date": str(data["start_date"]),
                 "handoff_time": "09:00", "lead": "", "services": [], "timezone": "Europe/London",
                 "effective_from": "2020-01-01T00:00"}  # fmt: skip
        response = client.post(reverse("oncall-rotation-edit", args=[steady.pk]), data)
        assert response.status_code == 400
        assert response.context["form"].errors["effective_from"]
        assert Rotation.objects.get(pk=steady.pk).name == "Steady"


class TestCalendarFeeds:
    def test_issue_fetch_regenerate_and_revoke(self, client, steady, viewer):
        client.force_login(viewer)
        page = client.post(reverse("oncall-feed-issue"), {"rotation": steady.pk}).content.decode()
        url = re.search(r'id="feed-url">([^<]+)<', page)[1]
        path = url.removeprefix("http://testserver")
        client.logout()

        response = client.get(path)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/calendar; charset=utf-8"
        calendar = Calendar.from_ical(response.content)
        assert calendar["X-WR-CALNAME"] == "On-call: Steady"

        client.force_login(viewer)
        client.post(reverse("oncall-feed-issue"), {"rotation": steady.pk})
        client.logout()
        assert client.get(path).status_code == 404  # regenerated: the old URL is dead
        assert CalendarFeed.objects.filter(owner=viewer).count() == 1

    def test_head_answers_like_get_without_a_body(self, client, steady, viewer):
        client.force_login(viewer)
        page = client.post(reverse("oncall-feed-issue")).content.decode()
        path = re.search(r'id="feed-url">([^<]+)<', page)[1].removeprefix("http://testserver")
        client.logout()

        head = client.head(path)
        accepted = client.get(path, HTTP_ACCEPT="text/calendar")

        assert (head.status_code, head["Content-Type"], head.content) == (200, "text/calendar; charset=utf-8", b"")
        assert accepted.status_code == 200
        assert client.post(path).status_code == 405

    def test_revoked_and_unknown_tokens_are_404(self, client, steady, viewer):
        client.force_login(viewer)
        page = client.post(reverse("oncall-feed-issue")).content.decode()
        path = re.search(r'id="feed-url">([^<]+)<', page)[1].removeprefix("http://testserver")
        client.post(reverse("oncall-feed-revoke", args=[CalendarFeed.objects.get().pk]))
        client.logout()
        assert client.get(path).status_code == 404
        assert client.get(reverse("oncall-calendar", args=["not-a-real-token"])).status_code == 404

    def test_a_malformed_rotation_is_a_400(self, client, viewer):
        client.force_login(viewer)
        response = client.post(reverse("oncall-feed-issue"), {"rotation": "abc"})
        assert response.status_code == 400
        assert response.content.decode().startswith("rotation:")

    def test_someone_else_cannot_revoke_a_feed(self, client, steady, viewer, make_user):
        client.force_login(viewer)
        client.post(reverse("oncall-feed-issue"), {"rotation": steady.pk})
        client.force_login(make_user(Role.RESPONDER, username="rex"))
        assert client.post(reverse("oncall-feed-revoke", args=[CalendarFeed.objects.get().pk])).status_code == 403
        assert CalendarFeed.objects.exists()


def test_dashboard_tile_shows_who_is_on_call_now(client, steady, viewer):
    client.force_login(viewer)
    html = client.get(reverse("dashboard")).content.decode()
    tile = re.search(r'id="oncall-now">.*?</section>', html, re.S)[0]
    for shown in ("Steady", "Ann", "secondary Ben"):
        assert shown in tile


def test_the_django_admin_shows_rotations_read_only(client, make_user, rotation):
    staff = make_user(Role.ADMIN, username="stan", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("admin:oncall_rotation_change", args=[rotation.pk])).status_code == 200
    assert client.get(reverse("admin:oncall_override_changelist")).status_code == 200
    assert client.get(reverse("admin:oncall_rotation_add")).status_code == 403
