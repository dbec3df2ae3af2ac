"""The maintenance and freeze API: the deploy gate, exceptions, windows, occurrences, feeds, the public status JSON."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from incidents.models import Incident, Severity
from incidents.services import incident_declare, incident_post_update
from maintenance.api.views import feed_key
from maintenance.models import FreezeException, FreezeRule, MaintenanceOccurrence, MaintenanceWindow
from maintenance.services import maintenance_sweep, occurrence_materialize, window_create
from portal.accounts.roles import Role

CHECK = reverse("api:freeze-check")


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class TestFreezeCheck:
    def test_black_friday_refuses_production_and_says_until_when(self, token_client):
        response = token_client(Role.VIEWER).get(CHECK, {"environment": "production", "at": "2026-11-27T10:00:00Z"})
        assert response.status_code == 200
        body = response.json()
        assert (body["allowed"], body["level"], body["until"], body["exception"]) == (
            False,
            "blocked",
            "2026-12-02T00:00:00Z",
            None,
        )
        assert any(reason.startswith("Black Friday / Cyber Monday 2026: Blocked") for reason in body["reasons"])

    def test_staging_is_open_and_at_defaults_to_now(self, token_client):
        client = token_client(Role.VIEWER)
        assert client.get(CHECK, {"environment": "staging", "at": "2026-11-27T10:00:00Z"}).json() == {
            "allowed": True,
            "level": None,
            "reasons": [],
            "until": None,
            "exception": None,
            "rule": "",
            "passed_by": None,
            "incident": None,
            "approved_by": None,
        }
        from maintenance.policy import freeze_status

        expected = freeze_status("production", timezone.now())
        body = client.get(CHECK, {"environment": "production"}).json()
        assert (body["allowed"], body["level"]) == (expected.allowed, expected.level)

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"environment": "prod"}, "environment"),
            ({}, "environment"),
            ({"environment": "production", "at": "next friday"}, "at"),
            ({"environment": "production", "at": "2026-11-27T10:00:00"}, "at"),  # naive: which zone?
            ({"environment": "production", "emergency": "maybe"}, "emergency"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(self, token_client, params, field):
        response = token_client(Role.VIEWER).get(CHECK, params)
        assert response.status_code == 400
        assert response.json()["field"] == field

    @pytest.mark.parametrize(
        ("at", "says"),
        [
            ("9999-12-31T00:00:00Z", "between 1970 and 2999"),
            ("0001-01-02T00:00:00Z", "between 1970 and 2999"),
            ("2026-01-01T00:00:00-17:19", "between -14:00 and +14:00"),
        ],
    )
    def test_an_instant_the_freeze_calendar_cannot_compute_around_is_a_400_naming_at(self, token_client, at, says):
        response = token_client(Role.VIEWER).get(CHECK, {"environment": "production", "at": at})
        assert response.status_code == 400
        assert (response.json()["field"], says in response.json()["detail"]) == ("at", True)

    def test_needs_a_token_or_a_session(self, api_client, db):
        assert api_client.get(CHECK, {"environment": "production"}).status_code == 401

    def test_a_couple_of_queries_per_check(self, token_client, django_assert_max_num_queries):
        client = token_client(Role.VIEWER)
        client.get(CHECK, {"environment": "production"})  # the token's last_used_at is written at most once a minute
        # Token + its user, the role, the freeze rules, the exception.
        with django_assert_max_num_queries(4):
            client.get(CHECK, {"environment": "production", "at": "2026-11-27T10:00:00Z", "change": "d-1"})


class TestExceptionFlow:
    def test_request_approve_by_another_commander_then_the_gate_lets_that_change_through(self, token_client):
        requester, approver = token_client(Role.RESPONDER), token_client(Role.INCIDENT_COMMANDER)
        payload = {
            "change": "https://ci.example.com/runs/981",
            "reason": "Fix checkout tax rounding",
            "environment": "production",
            "starts_at": "2026-11-27T09:00:00Z",
            "ends_at": "2026-11-27T12:00:00Z",
        }
        created = requester.post(reverse("api:freeze-exception-list"), payload, format="json")
        assert created.status_code == 201, created.json()
        pk = created.json()["id"]
        assert requester.post(reverse("api:freeze-exception-approve", args=[pk])).status_code == 403

        approved = approver.post(reverse("api:freeze-exception-approve", args=[pk]), {"note": "go"})
        assert approved.status_code == 200
        assert approved.json()["decided_by"] == approver.user.username

        at = {"environment": "production", "at": "2026-11-27T10:00:00Z"}
        gate = requester.get(CHECK, at | {"change": "https://ci.example.com/runs/981"}).json()
        # Black Friday is blocked: an exception without an emergency does not get through (test_freeze_levels.py).
        assert (gate["allowed"], gate["level"], gate["exception"]) == (False, "blocked", None)
        at = {"environment": "production", "at": "2026-12-31T10:00:00Z"}  # end of quarter: reduced
        payload |= {"starts_at": "2026-12-31T09:00:00Z", "ends_at": "2026-12-31T12:00:00Z"}
        pk = requester.post(reverse("api:freeze-exception-list"), payload, format="json").json()["id"]
        assert approver.post(reverse("api:freeze-exception-approve", args=[pk])).status_code == 200
        gate = requester.get(CHECK, at | {"change": "https://ci.example.com/runs/981"}).json()
        assert (gate["allowed"], gate["level"], gate["exception"], gate["passed_by"]) == (
            True,
            "reduced",
            pk,
            "exception",
        )
        assert not requester.get(CHECK, at | {"change": "https://ci.example.com/runs/982"}).json()["allowed"]
        assert approver.post(reverse("api:freeze-exception-reject", args=[pk])).status_code == 409

    def test_a_commander_cannot_approve_their_own_request(self, token_client):
        commander = token_client(Role.INCIDENT_COMMANDER)
        payload = {
            "change": "d-9",
            "reason": "r",
            "starts_at": "2026-11-27T09:00:00Z",
            "ends_at": "2026-11-27T10:00:00Z",
        }
        pk = commander.post(reverse("api:freeze-exception-list"), payload, format="json").json()["id"]
        response = commander.post(reverse("api:freeze-exception-approve", args=[pk]))
        assert response.status_code == 403
        assert "own" in response.json()["detail"]
        assert FreezeException.objects.get(pk=pk).status == "pending"

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"reason": "r", "starts_at": "2026-11-27T09:00:00Z", "ends_at": "2026-11-27T10:00:00Z"}, "change"),
            (
                {"change": "d", "reason": "r", "starts_at": "2026-11-27T09:00:00", "ends_at": "2026-11-27T10:00:00Z"},
                "starts_at",
            ),
            (
                {"change": "d", "reason": "r", "starts_at": "2026-11-27T09:00:00Z", "ends_at": "2026-11-27T08:00:00Z"},
                "ends_at",
            ),
            (
                {
                    "change": "d",
                    "reason": "r",
                    "environment": "qa",
                    "starts_at": "2026-11-27T09:00:00Z",
                    "ends_at": "2026-11-27T10:00:00Z",
                },
                "environment",
            ),
        ],
    )
    def test_bad_requests_name_the_field(self, token_client, payload, field):
        response = token_client(Role.RESPONDER).post(reverse("api:freeze-exception-list"), payload, format="json")
        assert response.status_code == 400
        assert field in response.json()["errors"]

    def test_an_exception_longer_than_14_days_is_a_400_naming_ends_at(self, token_client):
        requester = token_client(Role.RESPONDER)
        payload = {
            "change": "d-9",
            "reason": "r",
            "starts_at": "2026-11-27T10:00:00Z",
            "ends_at": "2027-11-27T12:00:00Z",
        }
        response = requester.post(reverse("api:freeze-exception-list"), payload, format="json")
        assert (response.status_code, response.json()["field"]) == (400, "ends_at")
        assert "14 d" in response.json()["errors"]["ends_at"][0]
        payload["ends_at"] = "2026-12-11T10:00:00Z"
        assert requester.post(reverse("api:freeze-exception-list"), payload, format="json").status_code == 201

    def test_viewers_cannot_request(self, token_client):
        assert token_client(Role.VIEWER).post(reverse("api:freeze-exception-list"), {}).status_code == 403


class TestFreezeRules:
    def test_admins_add_one_off_freezes_and_everyone_sees_the_periods(self, token_client):
        rule = {
            "name": "Launch week",
            "kind": "one_off",
            "level": "blocked",
            "environments": ["production", "staging"],
            "first_day": "2026-12-07",
            "last_day": "2026-12-11",
            "reason": "Marketing launch",
        }
        assert token_client(Role.INCIDENT_COMMANDER).post(reverse("api:freeze-rule-list"), rule).status_code == 403
        created = token_client(Role.ADMIN).post(reverse("api:freeze-rule-list"), rule, format="json")
        assert created.status_code == 201, created.json()
        periods = token_client(Role.VIEWER).get(
            reverse("api:freeze-periods"),
            {"start": "2026-12-01T00:00:00Z", "end": "2027-01-01T00:00:00Z", "environment": "staging"},
        )
        assert [(p["name"], p["first_day"], p["last_day"]) for p in periods.json()] == [
            ("Launch week", "2026-12-07", "2026-12-11")
        ]

    def test_a_bad_rule_is_a_400_naming_the_field(self, token_client):
        rule = {
            "name": "x",
            "kind": "one_off",
            "level": "blocked",
            "environments": ["production"],
            "first_day": "2026-12-09",
            "last_day": "2026-12-01",
        }
        response = token_client(Role.ADMIN).post(reverse("api:freeze-rule-list"), rule, format="json")
        assert response.status_code == 400
        assert response.json()["field"] == "last_day"

    @pytest.mark.parametrize(
        ("first_day", "last_day", "field"),
        [
            ("9999-12-30", "9999-12-31", "first_day"),
            ("0001-01-01", "0001-01-02", "first_day"),
            ("2026-12-30", "9999-12-31", "last_day"),
        ],
    )
    def test_a_one_off_freeze_in_year_1_or_9999_is_a_400_and_the_gate_keeps_answering(
        self, token_client, first_day, last_day, field
    ):
        rule = {"name": "Far", "kind": "one_off", "level": "blocked", "environments": ["production"],
                "first_day": first_day, "last_day": last_day}  # fmt: skip
        response = token_client(Role.ADMIN).post(reverse("api:freeze-rule-list"), rule, format="json")
        assert response.status_code == 400
        assert response.json()["field"] == field
        assert token_client(Role.VIEWER).get(CHECK, {"environment": "production"}).status_code == 200

    def test_admins_edit_the_seeded_rules(self, token_client):
        rule = FreezeRule.objects.get(kind="quarter_end")
        url = reverse("api:freeze-rule-detail", args=[rule.pk])
        assert token_client(Role.ADMIN).patch(url, {"days_before": 3}, format="json").status_code == 200
        assert token_client(Role.ADMIN).patch(url, {"days_before": 0}, format="json").status_code == 400
        rule.refresh_from_db()
        assert rule.days_before == 3


@pytest.fixture
def window(db, api, make_user):
    start = timezone.now() + timedelta(days=3)
    return window_create(
        name="LB swap",
        kind="one_off",
        actor=make_user(Role.ADMIN),
        starts_at=start,
        duration=timedelta(hours=2),
        notice_lead=timedelta(hours=24),
        services=[api],
    )


class TestWindows:
    def test_admin_creates_a_window_and_hears_about_overlaps(self, token_client, api):
        payload = {
            "name": "Cert rotation",
            "kind": "one_off",
            "starts_at": "2027-11-26T02:00:00Z",
            "duration": "01:00:00",
            "notice_lead": "1 00:00:00",
            "services": ["api"],
        }
        response = token_client(Role.ADMIN).post(reverse("api:maintenance-window-list"), payload, format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["services"] == ["api"]
        assert body["warnings"] == [
            "Cert rotation on 2027-11-26 02:00 UTC overlaps the freeze Black Friday / Cyber Monday 2027: "
            "Blocked (no deployments), 2027-11-23 through 2027-11-30 (UTC)"
        ]

    def test_recurring_window_and_its_bad_rule(self, token_client):
        client = token_client(Role.ADMIN)
        payload = {
            "name": "Weekly purge",
            "kind": "recurring",
            "rrule": "FREQ=WEEKLY;BYDAY=WE",
            "dtstart": "2026-12-01",
            "start_time": "01:00",
            "duration": "00:30:00",
            "notice_lead": "1 00:00:00",
        }
        assert client.post(reverse("api:maintenance-window-list"), payload, format="json").status_code == 201
        bad = client.post(
            reverse("api:maintenance-window-list"),
            payload | {"name": "x", "rrule": "FREQ=WEEKLY;BYDAY=XX"},
            format="json",
        )
        assert (bad.status_code, bad.json()["field"]) == (400, "rrule")
        emergency = client.post(
            reverse("api:maintenance-window-list"), payload | {"name": "y", "kind": "emergency"}, format="json"
        )
        assert (emergency.status_code, emergency.json()["field"]) == (400, "kind")

    def test_a_window_longer_than_7_days_is_a_400_naming_duration(self, token_client):
        payload = {"name": "Long", "kind": "recurring", "rrule": "FREQ=MONTHLY;BYDAY=1SU", "dtstart": "2026-12-01",
                   "start_time": "02:00", "duration": "7 00:01:00", "notice_lead": "7 00:00:00"}  # fmt: skip
        response = token_client(Role.ADMIN).post(reverse("api:maintenance-window-list"), payload, format="json")
        assert (response.status_code, response.json()["field"]) == (400, "duration")
        payload["duration"] = "7 00:00:00"
        created = token_client(Role.ADMIN).post(reverse("api:maintenance-window-list"), payload, format="json")
        assert created.status_code == 201, created.json()

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"kind": "one_off", "starts_at": "9999-12-31T23:00:00Z"}, "starts_at"),
            ({"kind": "one_off", "starts_at": "0001-01-01T01:00:00Z"}, "starts_at"),
            ({"kind": "one_off", "starts_at": "2027-01-01T01:00:00+23:00"}, "starts_at"),
            ({"dtstart": "9999-12-31"}, "dtstart"),
            ({"dtstart": "0001-01-01"}, "dtstart"),
        ],
    )
    def test_a_window_in_year_1_or_9999_is_a_400_naming_the_field(self, token_client, changes, field):
        payload = {"name": "Far", "kind": "recurring", "rrule": "FREQ=WEEKLY;BYDAY=WE", "dtstart": "2026-12-01",
                   "start_time": "01:00", "duration": "02:00:00", "notice_lead": "1 00:00:00"}  # fmt: skip
        url = reverse("api:maintenance-window-list")
        response = token_client(Role.ADMIN).post(url, payload | changes, format="json")
        assert response.status_code == 400
        assert response.json()["field"] == field

    @pytest.mark.parametrize(("role", "expected"), [(Role.INCIDENT_COMMANDER, 403), (Role.ADMIN, 200)])
    def test_only_admins_edit_windows(self, token_client, window, role, expected):
        url = reverse("api:maintenance-window-detail", args=[window.pk])
        assert token_client(Role.VIEWER).get(url).status_code == 200
        assert token_client(role).patch(url, {"expected_impact": "none"}, format="json").status_code == expected

    @pytest.mark.parametrize("field", ["starts_at", "duration", "rrule"])
    def test_patching_the_schedule_is_refused_pointing_at_reschedule(self, token_client, window, field):
        url = reverse("api:maintenance-window-detail", args=[window.pk])
        before = token_client(Role.VIEWER).get(url).json()
        new = {"starts_at": "2026-12-01T02:00:00Z", "duration": "05:00:00", "rrule": "FREQ=DAILY"}[field]

        response = token_client(Role.ADMIN).patch(url, {field: new, "expected_impact": "x"}, format="json")

        assert response.status_code == 400
        assert "occurrences/<id>/reschedule/" in response.json()["errors"][field][0]
        assert token_client(Role.VIEWER).get(url).json() == before  # nothing changed, the allowed field neither

    def test_patching_an_unknown_field_is_refused(self, token_client, window):
        url = reverse("api:maintenance-window-detail", args=[window.pk])
        response = token_client(Role.ADMIN).patch(url, {"colour": "red"}, format="json")
        assert (response.status_code, response.json()["field"]) == (400, "colour")

    def test_commanders_declare_emergency_maintenance(self, token_client, api):
        payload = {"name": "Kernel CVE patch", "duration": "00:45:00", "services": ["api"]}
        assert token_client(Role.RESPONDER).post(reverse("api:maintenance-emergency"), payload).status_code == 403
        response = token_client(Role.INCIDENT_COMMANDER).post(
            reverse("api:maintenance-emergency"), payload, format="json"
        )
        assert response.status_code == 201, response.json()
        assert response.json()["status"] == "in_progress"


class TestOccurrences:
    def test_commanders_run_occurrences_responders_tick_checklists(self, token_client, window):
        occurrence = window.occurrences.get()
        transition = reverse("api:maintenance-occurrence-transition", args=[occurrence.pk])
        assert token_client(Role.RESPONDER).post(transition, {"to_status": "notified"}).status_code == 403
        commander = token_client(Role.INCIDENT_COMMANDER)
        refused = commander.post(transition, {"to_status": "completed"})
        assert refused.status_code == 400
        assert refused.json()["allowed"] == ["notified", "in_progress", "cancelled"]
        assert commander.post(transition, {"to_status": "notified"}).json()["status"] == "notified"

        detail = token_client(Role.VIEWER).get(reverse("api:maintenance-occurrence-detail", args=[occurrence.pk]))
        item = detail.json()["checklist"][2]
        assert item["text"] == "Verify backup completed"
        tick = reverse("api:maintenance-checklist-item", args=[occurrence.pk, item["id"]])
        assert token_client(Role.VIEWER).patch(tick, {"done": True}).status_code == 403
        ticked = token_client(Role.RESPONDER, username="rami").patch(tick, {"done": True}, format="json")
        assert (ticked.status_code, ticked.json()["done"], ticked.json()["done_by"]) == (200, True, "rami")
        assert token_client(Role.RESPONDER).patch(tick, {"done": "perhaps"}).json()["field"] == "done"

    def test_reschedule_over_the_api(self, token_client, window):
        occurrence = window.occurrences.get()
        url = reverse("api:maintenance-occurrence-reschedule", args=[occurrence.pk])
        start = occurrence.starts_at + timedelta(days=1)
        body = {"starts_at": iso(start), "ends_at": iso(start + timedelta(hours=1)), "reason": "clash"}
        response = token_client(Role.INCIDENT_COMMANDER).post(url, body, format="json")
        assert response.status_code == 200, response.json()
        assert (response.json()["sequence"], response.json()["original_start"]) == (1, iso(occurrence.original_start))
        naive = token_client(Role.INCIDENT_COMMANDER).post(url, body | {"starts_at": "2030-01-01T00:00:00"})
        assert naive.json()["field"] == "starts_at"

    def test_a_reschedule_longer_than_its_window_kind_allows_is_a_400_naming_ends_at(self, token_client, window):
        occurrence = window.occurrences.get()
        url = reverse("api:maintenance-occurrence-reschedule", args=[occurrence.pk])
        body = {"starts_at": "2026-12-02T02:00:00Z", "ends_at": "2027-12-02T04:00:00Z"}
        response = token_client(Role.INCIDENT_COMMANDER).post(url, body, format="json")
        assert (response.status_code, response.json()["field"]) == (400, "ends_at")
        body["ends_at"] = "2026-12-09T02:00:00Z"  # 7 days, the longest a one-off window lasts
        assert token_client(Role.INCIDENT_COMMANDER).post(url, body, format="json").status_code == 200

    def test_planning_a_future_occurrence_of_a_recurring_window(self, token_client, db):
        window = MaintenanceWindow.objects.get(name="Standard updates")
        url = reverse("api:maintenance-window-occurrences", args=[window.pk])
        client = token_client(Role.INCIDENT_COMMANDER)
        first = client.post(url, {"original_start": "2030-01-01T02:00:00Z"})
        assert first.status_code == 201, first.json()
        assert client.post(url, {"original_start": "2030-01-01T02:00:00Z"}).status_code == 200
        assert client.post(url, {"original_start": "2030-01-02T02:00:00Z"}).json()["field"] == "original_start"
        no_such_minute = client.post(url, {"original_start": "2030-01-01T02:99:00Z"})
        assert (no_such_minute.status_code, no_such_minute.json()["field"]) == (400, "original_start")

    def test_list_is_filtered_paginated_and_constant_in_queries(self, token_client, db, api):
        window = MaintenanceWindow.objects.get(name="Standard updates")
        window.services.set([api])
        client = token_client(Role.VIEWER)
        url = reverse("api:maintenance-occurrence-list")
        occurrence_materialize(window=window, original_start=datetime(2030, 1, 1, 2, tzinfo=UTC))
        params = {"service": "api", "status": "scheduled", "page_size": 5}
        client.get(url, params)
        with CaptureQueriesContext(connection) as one:
            assert client.get(url, params).json()["count"] == 1
        for week in range(1, 11):
            occurrence_materialize(
                window=window, original_start=datetime(2030, 1, 1, 2, tzinfo=UTC) + timedelta(weeks=week)
            )
        with CaptureQueriesContext(connection) as eleven:
            body = client.get(url, params).json()
        assert (body["count"], len(body["results"])) == (11, 5)
        assert len(eleven) == len(one)
        assert client.get(url, {"status": "finished"}).json()["field"] == "status"


class TestCalendars:
    def test_calendar_json_has_windows_and_freezes(self, token_client):
        body = (
            token_client(Role.VIEWER)
            .get(reverse("api:maintenance-calendar"), {"start": "2026-11-23T00:00:00Z", "end": "2026-11-30T00:00:00Z"})
            .json()
        )
        assert [(e["window_name"], e["start"]) for e in body["maintenance"]] == [
            ("Standard updates", "2026-11-24T02:00:00Z")
        ]
        assert {f["name"] for f in body["freezes"]} >= {
            "Black Friday / Cyber Monday 2026",
            "Major holidays: Thanksgiving Day",
        }

    def test_bad_range_names_the_field(self, token_client):
        response = token_client(Role.VIEWER).get(
            reverse("api:maintenance-calendar"), {"start": "2026-11-23T00:00:00Z", "end": "2026-11-01T00:00:00Z"}
        )
        assert (response.status_code, response.json()["field"]) == (400, "end")

    @pytest.mark.parametrize("url", ["api:maintenance-calendar", "api:freeze-periods"])
    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"start": "9999-12-01T00:00:00Z", "end": "9999-12-31T00:00:00Z"}, "start"),
            ({"start": "0001-01-01T00:00:00Z", "end": "0001-01-31T00:00:00Z"}, "start"),
            ({"start": "9999-12-31T00:00:00Z"}, "start"),
            ({"start": "0001-01-02T00:00:00Z"}, "start"),
            ({"start": "2998-12-01T00:00:00Z", "end": "9999-12-31T00:00:00Z"}, "end"),
            ({"start": "2026-01-01T00:00:00-17:19"}, "start"),
        ],
    )
    def test_a_range_in_year_1_or_9999_is_a_400_naming_the_field(self, token_client, url, params, field):
        response = token_client(Role.VIEWER).get(reverse(url), params)
        assert response.status_code == 400
        assert response.json()["field"] == field

    def test_feed_by_token_and_by_personal_key(self, token_client, api_client, window):
        client = token_client(Role.VIEWER)
        response = client.get(reverse("api:maintenance-feed"))
        assert response.status_code == 200
        assert response["Content-Type"] == "text/calendar; charset=utf-8"
        calendar = Calendar.from_ical(response.content)
        summaries = {str(event["SUMMARY"]) for event in calendar.walk("VEVENT")}
        assert "Maintenance: LB swap" in summaries
        assert any(summary.startswith("Deploy freeze (blocked): Black Friday") for summary in summaries)
        occurrence = window.occurrences.get()
        [event] = [e for e in calendar.walk("VEVENT") if str(e["SUMMARY"]) == "Maintenance: LB swap"]
        assert str(event["UID"]) == f"maintenance-{window.pk}-{occurrence.original_start:%Y%m%dT%H%M%SZ}@127.0.0.1"

        # Calendar apps ask for text/calendar, as the schema promises; errors still answer (in JSON).
        asked = client.get(reverse("api:maintenance-feed"), HTTP_ACCEPT="text/calendar")
        assert (asked.status_code, asked["Content-Type"]) == (200, "text/calendar; charset=utf-8")
        assert api_client.get(reverse("api:maintenance-feed"), HTTP_ACCEPT="text/calendar").status_code == 401
        assert client.head(reverse("api:maintenance-feed")).status_code == 200

        keyed = api_client.get(reverse("api:maintenance-feed"), {"key": feed_key(client.user)})
        assert keyed.status_code == 200
        assert api_client.get(reverse("api:maintenance-feed"), {"key": "1:forged"}).status_code == 401
        assert api_client.get(reverse("api:maintenance-feed")).status_code == 401


class TestStatusJson:
    def test_public_and_shows_only_public_incidents_and_updates(self, api_client, db, api, make_user):
        reporter = make_user(Role.RESPONDER)
        severity = Severity.objects.get(code="P2")
        public = incident_declare(
            title="Checkout errors", severity=severity, reporter=reporter, services=[api], is_public=True
        )
        incident_post_update(
            incident=public, label="investigating", description="Looking into checkout errors.", actor=reporter,
            is_public=True,
        )  # fmt: skip
        incident_post_update(incident=public, label="identified", description="The cache node.", actor=reporter)
        internal = incident_declare(
            title="Secret key rotation gone wrong",
            severity=Severity.objects.get(code="P1"),
            reporter=reporter,
            services=[api],
        )
        incident_post_update(incident=internal, label="investigating", description="Internal only", actor=reporter)
        window = MaintenanceWindow.objects.get(name="Standard updates")
        window.services.set([api])

        response = api_client.get(reverse("api:status"))

        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "partial_outage"
        [row] = [row for row in body["services"] if row["slug"] == "api"]
        assert (row["status"], row["status_label"]) == ("partial_outage", "Partial outage")
        assert len(row["uptime_days"]) == 90
        [incident] = body["incidents"]
        assert incident["title"] == "Checkout errors"
        assert incident["updates"][0]["text"].startswith("[Status: Investigating]\n\nLooking into checkout errors.")
        assert "Secret key rotation" not in response.content.decode()
        assert "Internal only" not in response.content.decode()
        assert "The cache node" not in response.content.decode()  # a Responder's update is internal by default
        assert body["maintenance"][0]["name"] == "Standard updates"
        assert Incident.objects.count() == 2


def test_schema_lists_the_gate(token_client):
    schema = token_client(Role.VIEWER).get(reverse("schema"), {"format": "json"}).json()
    assert {"/api/v1/freeze/check/", "/api/v1/maintenance/calendar.ics", "/api/v1/status/"} <= set(schema["paths"])


def test_sweep_is_idempotent_over_the_api_view(token_client, window):
    maintenance_sweep(now=window.occurrences.get().notice_due_at)
    maintenance_sweep(now=window.occurrences.get().notice_due_at)
    assert MaintenanceOccurrence.objects.get().notices.count() == 1
