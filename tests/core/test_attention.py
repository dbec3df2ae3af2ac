"""The dashboard leads with what needs a person (issue 14, point 4)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.models import Severity
from incidents.selectors import open_incidents_brief
from incidents.services import incident_acknowledge, incident_declare
from maintenance.services import freeze_exception_request
from portal.accounts.roles import Role
from portal.cluster.models import ActionRun, Target
from portal.core.attention import approvals_for, incidents_by_need, maintenance_today_and_next

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a Tuesday afternoon, in business hours since 3 h before


@pytest.fixture
def people(make_user):
    return {
        "cora": make_user(Role.INCIDENT_COMMANDER, username="cora"),
        "dan": make_user(Role.INCIDENT_COMMANDER, username="dan"),
        "rami": make_user(Role.RESPONDER, username="rami"),
    }


@pytest.fixture
def three(people, time_machine):
    """A P1 acknowledged and owned; a P2 nobody acknowledged yet (still in time); a P3 that missed its acknowledge
    and update deadlines three hours ago and has no commander."""
    time_machine.move_to(T0, tick=False)
    severity = {s.code: s for s in Severity.objects.all()}
    p1 = incident_declare(
        title="Search down", severity=severity["P1"], reporter=None, detected_at=T0 - timedelta(minutes=2)
    )
    incident_acknowledge(incident=p1, actor=people["cora"])
    p2 = incident_declare(
        title="Slow images", severity=severity["P2"], reporter=None, detected_at=T0 - timedelta(minutes=1)
    )
    p3 = incident_declare(
        title="Stale emails", severity=severity["P3"], reporter=None, detected_at=T0 - timedelta(hours=3)
    )
    return p1, p2, p3


def test_overdue_then_unacknowledged_then_the_rest(three):

    p1, p2, p3 = three
    found = incidents_by_need(open_incidents_brief(), now=T0, limit=10)
    needs = found.needs
    assert [need.incident.pk for need in needs] == [p3.pk, p2.pk, p1.pk]
    assert (found.total, found.needing_someone) == (3, 2)
    assert needs[0].overdue == ("Acknowledge", "Update")  # not only the resolution deadline
    assert (needs[0].unacknowledged, needs[0].unowned) == (True, True)
    assert (needs[2].needs_someone, needs[2].overdue) == (False, ())


def test_the_database_orders_and_cuts_the_list_but_counts_every_open_incident(three):
    p1, p2, p3 = three
    found = incidents_by_need(open_incidents_brief(), now=T0, limit=2)
    assert [need.incident.pk for need in found.needs] == [p3.pk, p2.pk]
    assert (found.total, found.needing_someone) == (3, 2)


def test_the_dashboard_sorts_only_the_columns_its_lines_show(client, people, three):
    """The database sorts every open incident's row to find the first: whole rows (with the commander's and the
    severity's) cost it twice the time. Nothing the lines show is left to a query per line."""
    client.force_login(people["cora"])
    with CaptureQueriesContext(connection) as ctx:
        page = client.get(reverse("dashboard"))
    assert page.status_code == 200
    assert "Stale emails" in page.content.decode()
    sorted_read = next(q["sql"] for q in ctx.captured_queries if "ORDER BY" in q["sql"] and '"is_overdue"' in q["sql"])
    unread = ("impact_summary", "escalation_snapshot", '"accounts_user"."password"', '"incidents_severity"."name"')
    assert [column for column in unread if column in sorted_read] == []
    assert [q for q in ctx.captured_queries if 'WHERE "incidents_incident"."id" = ' in q["sql"]] == []


def test_the_dashboard_links_to_every_open_incident_past_the_ones_it_lists(client, people, three, monkeypatch):
    monkeypatch.setattr("portal.core.views.DASHBOARD_INCIDENTS", 2)
    client.force_login(people["rami"])
    html = client.get(reverse("dashboard")).content.decode()
    listed = re.search(r'id="needs-attention">.*?</section>', html, re.S)[0]
    assert "3 open, 2 need someone" in listed
    assert "Search down" not in listed
    assert f'<a href="{reverse("incident-list")}">All 3 open incidents</a>' in listed


def test_the_dashboard_says_what_is_overdue_first(client, people, three):
    client.force_login(people["rami"])
    html = client.get(reverse("dashboard")).content.decode()
    listed = re.search(r'id="needs-attention">.*?</section>', html, re.S)[0]
    assert listed.index("Stale emails") < listed.index("Slow images") < listed.index("Search down")
    first = listed.split("Stale emails")[1].split("</li>")[0]
    assert "no commander" in first
    assert "not acknowledged" in first
    assert "Acknowledge overdue by 2 h 00 min" in first  # P3 acknowledge target: 1 h
    assert "Update overdue by" in first
    assert f'href="{reverse("incident-declare")}"' in html


def test_approvals_waiting_for_me_are_what_i_may_decide(people, time_machine):
    time_machine.move_to(T0, tick=False)
    target = Target.objects.create(name="Cluster", slug="sim", kind="kubernetes", environment="production")
    run = ActionRun.objects.create(
        kind="drain", target=target, environment="production", reason="node flapping", requested_by=people["dan"],
        status=ActionRun.Status.AWAITING_APPROVAL, parameters={"node": "node-1"}, command="kubectl drain node-1",
    )  # fmt: skip
    exception = freeze_exception_request(
        change="ci#42", reason="hotfix", environment="production", starts_at=T0, ends_at=T0 + timedelta(hours=2),
        actor=people["rami"],
    )  # fmt: skip
    mine = approvals_for(people["cora"], now=T0)
    assert ([r.pk for r in mine.runs], [e.pk for e in mine.exceptions]) == ([run.pk], [exception.pk])
    assert approvals_for(people["dan"], now=T0).runs == []  # never their own request
    assert len(approvals_for(people["rami"], now=T0)) == 0  # a Responder decides nothing


def test_maintenance_today_and_the_next_come_from_one_read_of_the_calendar(db, time_machine):
    """The seeded weekly window, Tuesdays 02:00-04:00 UTC. At Tuesday 03:00 today's is running (and next); at
    Tuesday 15:00 today's has ended, so nothing today, and next Tuesday's is next."""
    tuesday = datetime(2026, 11, 24, tzinfo=UTC)
    time_machine.move_to(tuesday + timedelta(hours=3), tick=False)
    with CaptureQueriesContext(connection) as read:
        today, following = maintenance_today_and_next(now=tuesday + timedelta(hours=3))
    assert len(read) == 3  # windows, their services, the occurrence rows
    assert [(entry.window.name, entry.start) for entry in today] == [("Standard updates", tuesday + timedelta(hours=2))]
    assert following == today[0]
    today, following = maintenance_today_and_next(now=T0)
    assert today == []
    assert following is not None
    assert following.start == tuesday + timedelta(days=7, hours=2)
