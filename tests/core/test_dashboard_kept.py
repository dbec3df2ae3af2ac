"""The dashboard's operations tiles and maintenance are kept for the minute (every open dashboard refreshes itself
every 30 s) and dropped the moment anything they show changes (issue 13: pages within 5x the floor)."""

from datetime import UTC, datetime, timedelta

import pytest

from incidents.models import Service, Severity
from incidents.services import incident_acknowledge, incident_declare
from maintenance.models import MaintenanceWindow
from maintenance.services import window_update
from operations.models import Checklist, ChecklistTemplate
from operations.selectors.dashboard import operations_summary
from operations.services.checklists import checklist_item_set_done
from operations.services.deployments import deployment_record
from portal.accounts.roles import Role
from portal.core.attention import dashboard_needs, maintenance_today_and_next

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 24, 15, 0, 10, tzinfo=UTC)  # a Tuesday afternoon, ten seconds into its minute


def checklist_due(at: datetime) -> Checklist:
    template = ChecklistTemplate.objects.filter(kind__in=ChecklistTemplate.PERIODIC).first()
    checklist = Checklist.objects.create(template=template, title="Weekly checks", kind=template.kind,
                                         period_start=at - timedelta(days=7), period_end=at)  # fmt: skip
    checklist.items.create(position=0, text="Look at the backups")
    return checklist


class TestOperations:
    def test_read_again_within_its_minute_it_asks_the_database_nothing(self, django_assert_num_queries):
        checklist_due(T0 - timedelta(hours=1))
        first = operations_summary(now=T0)
        with django_assert_num_queries(0):
            again = operations_summary(now=T0 + timedelta(seconds=40))
        assert [checklist.title for checklist in again.overdue] == [checklist.title for checklist in first.overdue]
        assert again.overdue_count == first.overdue_count >= 1

    def test_a_change_shows_at_once(self, time_machine):
        time_machine.move_to(T0, tick=False)
        overdue = checklist_due(T0 - timedelta(hours=1))
        before = operations_summary(now=T0)
        assert overdue.pk in [checklist.pk for checklist in before.overdue]

        checklist_item_set_done(item=overdue.items.get(), done=True, actor=None, now=T0)
        api = Service.objects.create(name="API", slug="api")
        deployment, _created = deployment_record(service=api, environment="staging", version="9.9.9", commit="abc1234",
                                                 who="ci", actor=None, now=T0)  # fmt: skip

        after = operations_summary(now=T0 + timedelta(seconds=5))
        assert overdue.pk not in [checklist.pk for checklist in after.overdue]
        assert after.overdue_count == before.overdue_count - 1
        assert after.deployments[0].pk == deployment.pk

    def test_the_next_minute_counts_again(self):
        due = checklist_due(T0 + timedelta(seconds=30))  # falls overdue within the minute
        assert due.pk not in [checklist.pk for checklist in operations_summary(now=T0).overdue]
        assert due.pk not in [checklist.pk for checklist in operations_summary(now=T0 + timedelta(seconds=40)).overdue]
        assert due.pk in [checklist.pk for checklist in operations_summary(now=T0 + timedelta(seconds=50)).overdue]


class TestMaintenance:
    """The seeded weekly window runs Tuesdays 02:00-04:00 UTC."""

    TUESDAY_3AM = datetime(2026, 11, 24, 3, 0, 10, tzinfo=UTC)

    def test_read_again_within_its_minute_it_asks_the_database_nothing(self, django_assert_num_queries):
        today, following = maintenance_today_and_next(now=self.TUESDAY_3AM)
        with django_assert_num_queries(0):
            again = maintenance_today_and_next(now=self.TUESDAY_3AM + timedelta(seconds=40))
        assert again == (today, following)
        assert [entry.window.name for entry in today] == ["Standard updates"]

    def test_a_change_shows_at_once(self, make_user):
        today, following = maintenance_today_and_next(now=self.TUESDAY_3AM)
        assert following == today[0]
        window = MaintenanceWindow.objects.get(name="Standard updates")

        window_update(window=window, actor=make_user(Role.ADMIN), active=False)

        today, following = maintenance_today_and_next(now=self.TUESDAY_3AM + timedelta(seconds=5))
        assert window.pk not in [entry.window.pk for entry in today]
        assert following is None or following.window.pk != window.pk

    def test_the_next_minute_counts_again(self):
        ends = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
        today, _following = maintenance_today_and_next(now=ends - timedelta(seconds=50))
        assert [entry.end for entry in today] == [ends]
        today, _following = maintenance_today_and_next(now=ends + timedelta(seconds=5))
        assert today == []


class TestNeeds:
    """The open incidents by need (`dashboard_needs`): a sort of every open incident, the same for every reader."""

    @pytest.fixture
    def p2(self, time_machine):
        time_machine.move_to(T0, tick=False)
        return incident_declare(title="Slow images", severity=Severity.objects.get(code="P2"), reporter=None,
                                detected_at=T0 - timedelta(minutes=1))  # fmt: skip

    def test_read_again_within_its_minute_it_asks_the_database_nothing(self, p2, django_assert_num_queries):
        first = dashboard_needs(now=T0, limit=20)
        with django_assert_num_queries(0):
            again = dashboard_needs(now=T0 + timedelta(seconds=40), limit=20)
        assert [need.incident.pk for need in again.needs] == [need.incident.pk for need in first.needs] == [p2.pk]
        assert dashboard_needs(now=T0, limit=1).total == 1  # another limit, another answer

    def test_a_change_to_an_incident_shows_at_once(self, p2, make_user):
        assert dashboard_needs(now=T0, limit=20).needs[0].unacknowledged
        incident_acknowledge(incident=p2, actor=make_user(Role.INCIDENT_COMMANDER))
        assert not dashboard_needs(now=T0 + timedelta(seconds=5), limit=20).needs[0].unacknowledged
        p1 = incident_declare(title="Search down", severity=Severity.objects.get(code="P1"), reporter=None)
        after = dashboard_needs(now=T0 + timedelta(seconds=6), limit=20)
        assert ([need.incident.pk for need in after.needs], after.total) == ([p1.pk, p2.pk], 2)

    def test_a_deadline_passing_shows_in_the_next_minute(self, p2):
        due = p2.ack_due_at
        minute = due.replace(second=0, microsecond=0)
        assert due.second == T0.second  # so a second past it is still within its minute
        assert dashboard_needs(now=minute, limit=20).needs[0].overdue == ()
        assert dashboard_needs(now=due + timedelta(seconds=1), limit=20).needs[0].overdue == ()  # as read this minute
        assert dashboard_needs(now=minute + timedelta(minutes=1), limit=20).needs[0].overdue == ("Acknowledge",)

    def test_naming_an_incidents_services_keeps_them(self, p2, django_assert_num_queries):
        """The needs show no services: an alert storm's every new incident names its services, and each drop would
        write to the cache twice for nothing."""
        dashboard_needs(now=T0, limit=20)
        p2.services.add(Service.objects.create(name="API", slug="api"))
        with django_assert_num_queries(0):
            dashboard_needs(now=T0 + timedelta(seconds=5), limit=20)
