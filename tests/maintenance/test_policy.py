"""Freeze dates computed per year, the deploy gate's decision, and the seeded windows' schedules."""

import importlib
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Severity
from incidents.services import incident_declare
from maintenance import policy
from maintenance.models import FreezeException, FreezeRule, MaintenanceWindow
from maintenance.services import freeze_rule_create
from portal.errors import ApplicationError
from portal.scheduling import occurrences_between

seed_migration = importlib.import_module("maintenance.migrations.0002_seed_windows_and_freezes")


def periods(name: str, year: int) -> list[policy.FreezePeriod]:
    rule = FreezeRule.objects.get(name=name)
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    return [period for period in policy.freeze_periods([rule], start=start, end=end) if period.first_day.year == year]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class TestFreezeCalendar:
    @pytest.mark.parametrize(
        ("year", "first", "last"),
        [
            # Thanksgiving 2026-11-26: Black Friday 11-27, Cyber Monday 11-30.
            (2026, date(2026, 11, 24), date(2026, 12, 1)),
            # Thanksgiving 2027-11-25: Black Friday 11-26, Cyber Monday 11-29.
            (2027, date(2027, 11, 23), date(2027, 11, 30)),
        ],
    )
    def test_black_friday_cyber_monday_is_blocked_from_3_days_before_to_1_day_after(self, db, year, first, last):
        [period] = periods("Black Friday / Cyber Monday", year)
        assert (period.first_day, period.last_day, period.level) == (first, last, "blocked")
        assert period.span.start == datetime.combine(first, time(0), tzinfo=UTC)
        assert period.span.end == datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)

    def test_end_of_quarter_is_reduced_on_the_last_two_days(self, db):
        found = [(p.first_day, p.last_day, p.level) for p in periods("End of quarter", 2027)]
        assert found == [
            (date(2027, 3, 30), date(2027, 3, 31), "reduced"),
            (date(2027, 6, 29), date(2027, 6, 30), "reduced"),
            (date(2027, 9, 29), date(2027, 9, 30), "reduced"),
            (date(2027, 12, 30), date(2027, 12, 31), "reduced"),
        ]

    def test_holidays_come_from_the_holidays_library_for_the_configured_country(self, db, settings):
        us = {(p.first_day, p.level) for p in periods("Major holidays", 2026)}
        assert (date(2026, 11, 26), "emergency-only") in us  # Thanksgiving
        assert (date(2026, 7, 3), "emergency-only") in us  # Independence Day observed (07-04 is a Saturday)
        settings.HOLIDAY_COUNTRY = "GB"
        policy._holidays.cache_clear()
        gb = {p.first_day for p in periods("Major holidays", 2027)}
        assert date(2027, 12, 27) in gb  # Christmas Day (observed): 12-25 is a Saturday
        assert date(2027, 11, 25) not in gb

    def test_freeze_days_are_local_dates_in_the_rule_zone(self, db, admin):
        rule = freeze_rule_create(
            actor=admin,
            name="Launch",
            kind="one_off",
            level="blocked",
            environments=["production"],
            zone="America/New_York",
            first_day=date(2026, 12, 10),
            last_day=date(2026, 12, 11),
        )
        [period] = policy.freeze_periods([rule], start=utc(2026, 12, 1), end=utc(2026, 12, 31))
        assert period.span.start == utc(2026, 12, 10, 5)  # midnight EST
        assert period.span.end == utc(2026, 12, 12, 5)

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"kind": "one_off", "first_day": date(2026, 12, 2), "last_day": date(2026, 12, 1)}, "last_day"),
            ({"kind": "one_off"}, "first_day"),
            ({"kind": "holidays", "holiday_country": "XX"}, "holiday_country"),
            ({"kind": "quarter_end", "days_before": 0}, "days_before"),
            ({"kind": "black_friday", "environments": ["prod"]}, "environments"),
            ({"kind": "black_friday", "zone": "Mars/Olympus"}, "zone"),
            ({"kind": "black_friday", "level": "frozen"}, "level"),
        ],
    )
    def test_a_bad_rule_is_refused_naming_the_field(self, db, admin, fields, field):
        with pytest.raises(ApplicationError) as refused:
            freeze_rule_create(actor=admin, name="x", **{"level": "blocked", "environments": ["production"]} | fields)
        assert refused.value.field == field


class TestFreezeStatus:
    def test_outside_any_freeze_a_deploy_is_allowed(self, db):
        status = policy.freeze_status("production", utc(2026, 11, 18, 10))
        assert status == policy.FreezeStatus(allowed=True)

    def test_black_friday_blocks_production_until_the_freeze_ends(self, db):
        status = policy.freeze_status("production", utc(2026, 11, 27, 10))
        assert not status.allowed
        assert status.level == "blocked"
        # Thanksgiving (emergency-only) falls inside the freeze too; the strictest level wins.
        assert any("Black Friday / Cyber Monday 2026" in reason for reason in status.reasons)
        assert status.until == utc(2026, 12, 2)

    def test_boundaries_are_half_open_local_days(self, db):
        assert policy.freeze_status("production", utc(2026, 11, 23, 23, 59)).allowed
        assert not policy.freeze_status("production", utc(2026, 11, 24)).allowed
        assert not policy.freeze_status("production", utc(2026, 12, 1, 23, 59)).allowed
        assert policy.freeze_status("production", utc(2026, 12, 2)).allowed

    @pytest.mark.parametrize("environment", ["staging", "development"])
    def test_staging_and_development_are_not_frozen_unless_a_rule_says_so(self, db, admin, environment):
        at = utc(2026, 11, 27, 10)
        assert policy.freeze_status(environment, at).allowed
        freeze_rule_create(
            actor=admin,
            name="Staging too",
            kind="black_friday",
            level="blocked",
            environments=[environment],
            days_before=3,
            days_after=1,
        )
        assert not policy.freeze_status(environment, at).allowed

    def test_end_of_quarter_is_reduced(self, db):
        status = policy.freeze_status("production", utc(2027, 3, 31, 15))
        assert (status.allowed, status.level, status.until) == (False, "reduced", utc(2027, 4, 1))

    def test_emergency_only_lets_emergency_fixes_through(self, db, commander):
        july_3 = utc(2026, 7, 3, 12)
        refused = policy.freeze_status("production", july_3)
        assert (refused.allowed, refused.level) == (False, "emergency-only")
        assert not policy.freeze_status("production", july_3, emergency=True).allowed  # for which incident?
        p1 = incident_declare(title="Checkout down", severity=Severity.objects.get(code="P1"), reporter=commander)
        assert policy.freeze_status("production", july_3, emergency=True, incident=p1).allowed
        # An emergency alone does not open a blocked freeze: a second person approves it.
        assert not policy.freeze_status("production", utc(2026, 11, 27, 10), emergency=True, incident=p1).allowed

    def test_until_follows_adjoining_freezes(self, db):
        # Independence Day observed (07-03) and the day itself (07-04) touch: frozen until 07-05.
        assert policy.freeze_status("production", utc(2026, 7, 3, 12)).until == utc(2026, 7, 5)

    @pytest.mark.parametrize(
        ("at", "since"),
        [
            (utc(2026, 11, 27, 10), utc(2026, 11, 24)),  # Black Friday week, Thanksgiving inside it
            (utc(2026, 7, 4, 12), utc(2026, 7, 3)),  # the day before, Independence Day observed, touches it
            (utc(2027, 3, 31, 15), utc(2027, 3, 30)),  # the quarter's last two days
            (utc(2026, 11, 23, 23, 59), None),
        ],
    )
    def test_since_follows_adjoining_freezes_back(self, db, at, since):
        assert policy.frozen_since("production", at) == since

    def test_since_stops_at_a_gap(self, db, admin):
        # A one-off freeze ending the day before Black Friday week begins does not touch it.
        one_off = {"kind": "one_off", "environments": ["production"]}
        freeze_rule_create(actor=admin, name="Sale prep", level="blocked", first_day=date(2026, 11, 20),
                           last_day=date(2026, 11, 22), **one_off)  # fmt: skip
        assert policy.frozen_since("production", utc(2026, 11, 27, 10)) == utc(2026, 11, 24)
        # Another on the day between joins them into one stretch.
        freeze_rule_create(actor=admin, name="Sale prep 2", level="reduced", first_day=date(2026, 11, 23),
                           last_day=date(2026, 11, 23), **one_off)  # fmt: skip
        assert policy.frozen_since("production", utc(2026, 11, 27, 10)) == utc(2026, 11, 20)

    def test_an_approved_exception_opens_the_gate_for_its_change_and_window_only(self, db, admin, commander):
        exception = FreezeException.objects.create(
            change="deploy-42",
            reason="Payment fix",
            environment="production",
            starts_at=utc(2027, 3, 31, 9),
            ends_at=utc(2027, 3, 31, 11),
            requested_by=admin,
            decided_by=commander,
            status="approved",
        )
        allowed = policy.freeze_status("production", utc(2027, 3, 31, 10), change="deploy-42")
        assert (allowed.allowed, allowed.level, allowed.exception_id) == (True, "reduced", exception.pk)
        assert "approved by cora" in allowed.reasons[-1]
        assert not policy.freeze_status("production", utc(2027, 3, 31, 10), change="deploy-43").allowed
        assert not policy.freeze_status("production", utc(2027, 3, 31, 11), change="deploy-42").allowed
        exception.status = "rejected"
        exception.save()
        assert not policy.freeze_status("production", utc(2027, 3, 31, 10), change="deploy-42").allowed

    def test_two_queries_at_most(self, db):
        with CaptureQueriesContext(connection) as queries:
            policy.freeze_status("production", utc(2026, 11, 27, 10), change="deploy-42")
        assert len(queries) == 2  # the rules (then cached) and the exception
        with CaptureQueriesContext(connection) as queries:
            policy.freeze_status("production", utc(2026, 11, 18, 10), change="deploy-42")
        assert len(queries) == 0  # the rules from the cache; not frozen: no exception to look up

    @pytest.mark.parametrize(
        ("environment", "at", "field"),
        [("prod", utc(2026, 11, 27), "environment"), ("production", datetime(2026, 11, 27), "at")],  # noqa: DTZ001
    )
    def test_bad_input_names_the_field(self, db, environment, at, field):
        with pytest.raises(ApplicationError) as refused:
            policy.freeze_status(environment, at)
        assert refused.value.field == field


class TestSeededWindows:
    def test_standard_updates_are_tuesdays_02_to_04_utc_with_24h_notice(self, db):
        window = MaintenanceWindow.objects.get(name="Standard updates")
        found = occurrences_between(policy.schedule(window), start=utc(2026, 11, 16), end=utc(2026, 12, 1))
        assert [(o.start, o.end) for o in found] == [
            (utc(2026, 11, 17, 2), utc(2026, 11, 17, 4)),
            (utc(2026, 11, 24, 2), utc(2026, 11, 24, 4)),
        ]
        assert window.notice_lead == timedelta(hours=24)

    @pytest.mark.parametrize(
        ("name", "hours", "first"),
        [("Major upgrades", (2, 6), utc(2026, 12, 6, 2)), ("Database maintenance", (3, 5), utc(2026, 12, 6, 3))],
    )
    def test_monthly_windows_are_on_the_first_sunday_with_a_week_of_notice(self, db, name, hours, first):
        window = MaintenanceWindow.objects.get(name=name)
        found = occurrences_between(policy.schedule(window), start=utc(2026, 12, 1), end=utc(2027, 2, 1))
        assert [o.start for o in found] == [first, utc(2027, 1, 3, hours[0])]
        assert found[0].duration == timedelta(hours=hours[1] - hours[0])
        assert window.notice_lead == timedelta(weeks=1)

    def test_which_sunday_is_a_setting(self, settings):
        settings.MAINTENANCE_MONTHLY_SUNDAY = -1
        rules = {fields["name"]: fields["rrule"] for fields in seed_migration.windows()}
        assert rules["Major upgrades"] == rules["Database maintenance"] == "FREQ=MONTHLY;BYDAY=-1SU"
