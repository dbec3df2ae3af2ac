"""Maintenance and freeze pages per role, htmx partials, and the public status page."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import Severity
from incidents.services import incident_declare, incident_post_update
from maintenance.models import FreezeException, FreezeRule, MaintenanceOccurrence, MaintenanceWindow
from maintenance.services import freeze_exception_request, window_create
from portal.accounts.roles import Role


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


@pytest.fixture
def window(db, api, make_user):
    return window_create(
        name="LB swap",
        kind="one_off",
        actor=make_user(Role.ADMIN),
        duration=timedelta(hours=2),
        starts_at=timezone.now() + timedelta(days=3),
        notice_lead=timedelta(hours=24),
        services=[api],
    )


@pytest.fixture
def occurrence(window) -> MaintenanceOccurrence:
    return window.occurrences.get()


def as_role(client, make_user, role: Role, **fields):
    user = make_user(role, **fields)
    client.force_login(user)
    return user


class TestCalendar:
    def test_month_shows_windows_and_freezes_together(self, client, make_user):
        as_role(client, make_user, Role.VIEWER)
        response = client.get(reverse("maintenance-calendar"), {"month": "2026-11"})
        html = response.content.decode()
        assert response.status_code == 200
        assert "November 2026" in html
        assert 'data-day="2026-11-27"' in html
        assert "❄ Black Friday / Cyber Monday 2026" in html
        assert "02:00 Standard updates" in html
        assert "New window" not in html  # Admins only
        assert "?key=" in html  # the personal feed URL

    def test_a_bad_month_is_a_400_naming_it(self, client, make_user):
        as_role(client, make_user, Role.VIEWER)
        response = client.get(reverse("maintenance-calendar"), {"month": "November"})
        assert response.status_code == 400
        assert "month:" in response.content.decode()

    @pytest.mark.parametrize("month", ["9999-12", "0001-01"])
    def test_a_month_the_calendar_cannot_show_is_a_400_naming_it(self, client, make_user, month):
        as_role(client, make_user, Role.VIEWER)
        response = client.get(reverse("maintenance-calendar"), {"month": month})
        assert response.status_code == 400
        assert "month:" in response.content.decode()

    def test_nav_links_are_real(self, client, make_user):
        as_role(client, make_user, Role.VIEWER)
        html = client.get(reverse("dashboard")).content.decode()
        assert f'href="{reverse("maintenance-calendar")}"' in html
        assert f'href="{reverse("freeze-calendar")}"' in html
        tiles = html.split('id="next-maintenance"')[1].split('id="system-health"')[0]
        # Whatever today is, a seeded weekly or monthly window is due within the tile's five weeks.
        assert any(name in tiles for name in ("Standard updates", "Major upgrades", "Database maintenance"))
        assert 'id="deploy-freeze"' in tiles


class TestWindowPages:
    @pytest.mark.parametrize(("role", "expected"), [(Role.INCIDENT_COMMANDER, 403), (Role.ADMIN, 302)])
    def test_only_admins_create_windows(self, client, make_user, api, role, expected):
        as_role(client, make_user, role)
        form = {
            "name": "Cert rotation",
            "kind": "one_off",
            "services": ["api"],
            "environment": "production",
            "starts_at": "2027-11-26T02:00",
            "zone": "UTC",
            "duration_minutes": 60,
            "notice_hours": 24,
        }
        response = client.post(reverse("maintenance-window-create"), form)
        assert response.status_code == expected
        if expected == 302:
            page = client.get(response["Location"]).content.decode()
            assert "overlaps the freeze Black Friday / Cyber Monday 2027" in page

    def test_a_bad_form_is_a_400_with_the_field_error(self, client, make_user):
        as_role(client, make_user, Role.ADMIN)
        form = {
            "name": "Weekly",
            "kind": "recurring",
            "rrule": "FREQ=NEVER",
            "dtstart": "2026-12-01",
            "start_time": "02:00",
            "environment": "production",
            "zone": "UTC",
            "duration_minutes": 60,
            "notice_hours": 24,
        }
        response = client.post(reverse("maintenance-window-create"), form)
        assert response.status_code == 400
        assert response.context["form"].errors["rrule"]

    def test_commanders_start_emergency_maintenance(self, client, make_user, api):
        as_role(client, make_user, Role.RESPONDER)
        assert client.post(reverse("maintenance-emergency"), {"name": "x", "duration_minutes": 30}).status_code == 403
        as_role(client, make_user, Role.INCIDENT_COMMANDER)
        response = client.post(
            reverse("maintenance-emergency"), {"name": "Hotfix DB", "duration_minutes": 30, "services": ["api"]}
        )
        occurrence = MaintenanceOccurrence.objects.get(window__kind=MaintenanceWindow.Kind.EMERGENCY)
        assert response["Location"] == reverse("maintenance-occurrence", args=[occurrence.pk])
        assert occurrence.status == "in_progress"

    def test_emergency_maintenance_for_an_incident_other_than_an_open_p1_p2_says_why(self, client, make_user, api):
        from incidents.models import Severity
        from incidents.services import incident_declare

        p4 = incident_declare(title="Typo", severity=Severity.objects.get(code="P4"), reporter=None)
        as_role(client, make_user, Role.INCIDENT_COMMANDER)
        response = client.post(reverse("maintenance-emergency"), {"name": "Hotfix", "duration_minutes": 30,
                                                                  "incident": p4.pk})  # fmt: skip
        assert response.status_code == 400
        assert response.context["form"].errors["incident"] == [
            "Emergency maintenance answers an open P1 or P2 incident; this one is not."
        ]
        assert not MaintenanceOccurrence.objects.filter(window__kind=MaintenanceWindow.Kind.EMERGENCY).exists()

    def test_commanders_plan_a_coming_occurrence_of_a_recurring_window(self, client, make_user):
        window = MaintenanceWindow.objects.get(name="Standard updates")
        as_role(client, make_user, Role.INCIDENT_COMMANDER)
        html = client.get(reverse("maintenance-window", args=[window.pk])).content.decode()
        assert "Plan this one" in html
        response = client.post(
            reverse("maintenance-window-materialize", args=[window.pk]), {"original_start": "2030-01-01T02:00:00Z"}
        )
        assert response.status_code == 302
        assert window.occurrences.filter(original_start=datetime(2030, 1, 1, 2, tzinfo=UTC)).exists()

    def test_admins_edit_a_window_viewers_cannot(self, client, make_user, window):
        url = reverse("maintenance-window", args=[window.pk])
        as_role(client, make_user, Role.VIEWER)
        assert client.post(url, {"name": "x"}).status_code == 403
        as_role(client, make_user, Role.ADMIN)
        assert client.post(url, {"name": "LB swap (east)", "active": "on"}).status_code == 302
        window.refresh_from_db()
        assert window.name == "LB swap (east)"


class TestOccurrencePage:
    def test_commander_sees_only_allowed_moves(self, client, make_user, occurrence):
        as_role(client, make_user, Role.INCIDENT_COMMANDER)
        html = client.get(reverse("maintenance-occurrence", args=[occurrence.pk])).content.decode()
        assert 'name="to_status" value="notified"' in html
        assert 'name="to_status" value="completed"' not in html
        assert "Reschedule and notify" in html
        assert "Verify backup completed" in html

    def test_viewer_sees_no_controls(self, client, make_user, occurrence):
        as_role(client, make_user, Role.VIEWER)
        html = client.get(reverse("maintenance-occurrence", args=[occurrence.pk])).content.decode()
        assert "Move to" not in html
        assert 'type="checkbox"' not in html

    def test_htmx_transition_returns_the_body_only(self, client, make_user, occurrence):
        as_role(client, make_user, Role.INCIDENT_COMMANDER)
        url = reverse("maintenance-occurrence-act", args=[occurrence.pk, "transition"])
        response = client.post(url, {"to_status": "notified"}, HTTP_HX_REQUEST="true")
        html = response.content.decode()
        assert html.lstrip().startswith('<div id="occurrence-body"')
        assert '<strong id="occurrence-status">Notified</strong>' in html
        refused = client.post(url, {"to_status": "completed"}, HTTP_HX_REQUEST="true")
        assert refused.status_code == 400
        assert "Allowed next: In progress, Cancelled" in refused.content.decode()

    def test_responders_cannot_run_it(self, client, make_user, occurrence):
        as_role(client, make_user, Role.RESPONDER)
        url = reverse("maintenance-occurrence-act", args=[occurrence.pk, "transition"])
        assert client.post(url, {"to_status": "notified"}).status_code == 403

    @pytest.mark.parametrize(("role", "expected"), [(Role.VIEWER, 403), (Role.RESPONDER, 200)])
    def test_responders_tick_checklist_items_with_htmx(self, client, make_user, occurrence, role, expected):
        as_role(client, make_user, role, username="tick")
        item = occurrence.checklist.get(text="Prepare rollback plan")
        url = reverse("maintenance-checklist-tick", args=[occurrence.pk, item.pk])
        response = client.post(url, {"done": "on"}, HTTP_HX_REQUEST="true")
        assert response.status_code == expected
        item.refresh_from_db()
        assert (item.done_at is not None) == (expected == 200)
        if expected == 200:
            html = response.content.decode()
            assert html.lstrip().startswith(f'<li id="checklist-item-{item.pk}" class="done">')
            assert "— tick," in html


class TestFreezePage:
    def test_request_then_another_commander_approves(self, client, make_user):
        requester = as_role(client, make_user, Role.RESPONDER)
        form = {
            "change": "deploy-77",
            "reason": "Tax fix",
            "environment": "production",
            "starts_at": "2026-11-27T09:00",
            "ends_at": "2026-11-27T11:00",
        }
        assert client.post(reverse("freeze-exception-request"), form).status_code == 302
        exception = FreezeException.objects.get()
        assert exception.requested_by == requester
        assert client.post(reverse("freeze-exception-decide", args=[exception.pk, "approve"])).status_code == 403
        as_role(client, make_user, Role.INCIDENT_COMMANDER)
        page = client.get(reverse("freeze-calendar")).content.decode()
        assert "Approve" in page
        assert client.post(reverse("freeze-exception-decide", args=[exception.pk, "approve"])).status_code == 302
        exception.refresh_from_db()
        assert exception.status == "approved"

    def test_a_commander_is_refused_their_own_request(self, client, make_user):
        commander = as_role(client, make_user, Role.INCIDENT_COMMANDER)
        own = freeze_exception_request(
            change="d",
            reason="r",
            environment="production",
            actor=commander,
            starts_at=timezone.now(),
            ends_at=timezone.now() + timedelta(hours=1),
        )
        assert "Approve" not in client.get(reverse("freeze-calendar")).content.decode()
        response = client.post(reverse("freeze-exception-decide", args=[own.pk, "approve"]))
        assert response.status_code == 403
        assert "your own" in response.content.decode()

    def test_a_bad_exception_form_is_a_400(self, client, make_user):
        as_role(client, make_user, Role.RESPONDER)
        response = client.post(
            reverse("freeze-exception-request"),
            {
                "change": "d",
                "reason": "r",
                "environment": "production",
                "starts_at": "2026-11-27T09:00",
                "ends_at": "2026-11-27T08:00",
            },
        )
        assert response.status_code == 400
        assert response.context["exception_form"].errors["ends_at"]

    @pytest.mark.parametrize(("role", "expected"), [(Role.INCIDENT_COMMANDER, 403), (Role.ADMIN, 302)])
    def test_admins_add_one_off_freezes(self, client, make_user, role, expected):
        as_role(client, make_user, role)
        form = {
            "name": "Launch",
            "level": "blocked",
            "environments": ["production"],
            "first_day": "2026-12-08",
            "last_day": "2026-12-09",
            "zone": "UTC",
        }
        assert client.post(reverse("freeze-add"), form).status_code == expected
        assert FreezeRule.objects.filter(name="Launch").exists() == (expected == 302)

    def test_page_lists_the_computed_periods(self, client, make_user):
        as_role(client, make_user, Role.VIEWER)
        html = client.get(reverse("freeze-calendar")).content.decode()
        year = timezone.now().year
        assert f"End of quarter Q4 {year}" in html
        assert "Request an exception" not in html


class TestFreezePageAnswers:
    """Issue 14, point 9: past freezes hidden unless asked for, and "Is it frozen?" answered on the page."""

    def test_past_freezes_are_hidden_unless_asked_for(self, client, make_user, time_machine):
        time_machine.move_to(datetime(2026, 7, 14, 12, tzinfo=UTC), tick=False)
        as_role(client, make_user, Role.VIEWER)
        html = client.get(reverse("freeze-calendar")).content.decode()
        periods = html.split('id="periods"')[1]
        assert "Thu 2026-01-01" not in periods  # New Year's Day 2026 is over
        assert "Black Friday / Cyber Monday 2026" in periods
        shown = client.get(reverse("freeze-calendar"), {"past": "1"}).content.decode().split('id="periods"')[1]
        assert "Thu 2026-01-01" in shown

    @pytest.mark.parametrize(
        ("at", "expected"),
        [("2026-11-27T10:00", "blocked</span> until 2026-12-02 00:00 UTC"), ("2026-07-14T10:00", "open</span>")],
    )
    def test_is_it_frozen_answers_for_an_environment_and_a_time(self, client, make_user, at, expected):
        as_role(client, make_user, Role.VIEWER)
        response = client.get(reverse("freeze-calendar"), {"environment": "production", "at": at})
        assert response.status_code == 200
        assert expected in response.content.decode().split('id="frozen-answer"')[1].split("</p>")[0]

    def test_a_bad_time_is_a_400_naming_the_field(self, client, make_user):
        as_role(client, make_user, Role.VIEWER)
        response = client.get(reverse("freeze-calendar"), {"environment": "production", "at": "soon"})
        assert response.status_code == 400
        assert "at: Enter a valid date/time." in response.content.decode()


class TestStatusPage:
    def test_public_page_shows_public_incidents_and_maintenance_only(self, client, db, api, make_user):
        reporter = make_user(Role.RESPONDER)
        public = incident_declare(
            title="Search is slow",
            severity=Severity.objects.get(code="P3"),
            reporter=reporter,
            services=[api],
            is_public=True,
        )
        incident_post_update(
            incident=public, label="identified", description="A bad index; rebuilding.", actor=reporter, is_public=True
        )
        incident_declare(
            title="Credential leak drill", severity=Severity.objects.get(code="P1"), reporter=reporter, services=[api]
        )
        window = MaintenanceWindow.objects.get(name="Standard updates")
        window.services.set([api])

        response = client.get(reverse("status-page"))  # anonymous

        html = response.content.decode()
        assert response.status_code == 200
        assert "Degraded performance" in html
        assert "Search is slow" in html
        assert "<strong>Identified</strong>" in html
        assert "<p>A bad index; rebuilding.</p>" in html  # text, not a code block
        assert "<pre" not in html
        assert "Credential leak drill" not in html
        assert "Standard updates" in html


class TestRangesReadWithTheirDates:
    """A range whose end falls on another day gives that day, and the year when it differs: a year-long exception
    was listed as "11-27 10:00–11-27 12:00" and approved as a 2-hour pass."""

    def test_the_freeze_page_writes_an_exception_s_end_date_and_year(self, client, make_user):
        requester = as_role(client, make_user, Role.RESPONDER)
        ask = {"change": "d", "reason": "r", "environment": "production", "requested_by": requester}
        FreezeException.objects.create(starts_at=utc(2026, 11, 27, 9), ends_at=utc(2026, 11, 27, 11), **ask)
        # Asked before exceptions were bounded: still listed as what it is.
        FreezeException.objects.create(starts_at=utc(2026, 11, 27, 10), ends_at=utc(2027, 11, 27, 12), **ask)
        html = client.get(reverse("freeze-calendar")).content.decode()
        assert "production: 2026-11-27 09:00–11:00<" in html
        assert "production: 2026-11-27 10:00 – 2027-11-27 12:00<" in html

    def test_an_occurrence_s_header_and_its_window_s_list_write_the_end_date(self, client, make_user, occurrence):
        as_role(client, make_user, Role.VIEWER)
        MaintenanceOccurrence.objects.filter(pk=occurrence.pk).update(
            starts_at=utc(2026, 12, 2, 2), ends_at=utc(2027, 12, 2, 4)
        )
        html = client.get(reverse("maintenance-occurrence", args=[occurrence.pk])).content.decode()
        assert "<h1>LB swap: Wed 2026-12-02 02:00 – Thu 2027-12-02 04:00 UTC</h1>" in html
        html = client.get(reverse("maintenance-window", args=[occurrence.window_id])).content.decode()
        assert ">Wed 2026-12-02 02:00 – Thu 2027-12-02 04:00<" in html

    def test_the_dashboard_writes_the_end_of_maintenance_running_into_tomorrow(self, client, make_user, one_off):
        as_role(client, make_user, Role.VIEWER)
        one_off(start=utc(2026, 11, 16, 22), hours=6, name="Night upgrade")
        one_off(start=utc(2026, 11, 16, 14), hours=1, name="Cert swap")
        html = client.get(reverse("dashboard")).content.decode()
        assert "Night upgrade</a> Mon 2026-11-16 22:00 – Tue 2026-11-17 04:00 UTC" in html
        assert "Cert swap</a> 14:00–15:00 UTC" in html


class TestSpansAreBounded:
    def test_a_year_long_exception_is_a_400_naming_ends_at(self, client, make_user):
        as_role(client, make_user, Role.RESPONDER)
        form = {"change": "d", "reason": "r", "environment": "production", "starts_at": "2026-11-27T10:00",
                "ends_at": "2027-11-27T12:00"}  # fmt: skip
        response = client.post(reverse("freeze-exception-request"), form)
        assert response.status_code == 400
        assert "14 d" in response.context["exception_form"].errors["ends_at"][0]
        assert not FreezeException.objects.exists()

    def test_a_year_long_reschedule_is_a_400_saying_the_longest(self, client, make_user, occurrence):
        as_role(client, make_user, Role.INCIDENT_COMMANDER)
        url = reverse("maintenance-occurrence-act", args=[occurrence.pk, "reschedule"])
        response = client.post(url, {"starts_at": "2026-12-02T02:00", "ends_at": "2027-12-02T04:00"},
                               HTTP_HX_REQUEST="true")  # fmt: skip
        assert response.status_code == 400
        assert "One-off maintenance lasts at most 7 d." in response.content.decode()
        occurrence.refresh_from_db()
        assert occurrence.sequence == 0
