"""Routing by owner (issue 15 point 5): an incident opened by catalogued alerts reaches the catalogue's owner team, its
Slack channel beside the default route and its PagerDuty service instead of the default one; other alerts keep
today's routing."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from contacts.models import Team
from incidents.alert_services import alert_ingest, integration_create
from incidents.alerts import IncomingAlert
from incidents.escalation import escalation_sweep
from incidents.models import Incident, Severity
from incidents.selectors import incident_row, owner_team
from incidents.services import incident_transition
from portal.accounts.roles import Role
from portal.notifications.delivery import deliver
from portal.notifications.models import Channel, Delivery, EventKind, Notification, PagerAction
from portal.notifications.models import Severity as Level
from portal.notifications.services import notify
from tests.factories import AlertRuleFactory
from tests.notifications.conftest import PAGER_PATH

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TEAM_KEY = "DBTEAMKEY0000000000000000000000A"
DEFAULT_KEY = "R0UT1NGKEY0000000000000000000000"


def routes(notification: Notification) -> set[tuple[str, str, str | None]]:
    """(channel, address, owner team slug) of each delivery that is not an email or SMS."""
    rows = notification.deliveries.exclude(channel__kind__in=["email", "sms"]).select_related("channel", "team")
    return {(row.channel.name, row.address, row.team.slug if row.team else None) for row in rows}


@pytest.fixture
def database(db) -> Team:
    team = Team.objects.get(slug="database")
    team.pagerduty_routing_key = TEAM_KEY
    team.save()
    return team


@pytest.fixture
def ingest(live_channels):
    integration = integration_create(name="alertmanager", created_by=None).integration

    def send(alertname: str, severity: str = "critical", *, fingerprint: str = "f1", at: datetime = T0) -> Incident:
        alert = IncomingAlert(fingerprint=fingerprint, status="firing", starts_at=at, ends_at=None, annotations={},
                              labels={"alertname": alertname, "severity": severity})  # fmt: skip
        summary = alert_ingest(integration=integration, alerts=[alert], now=at)
        return Incident.objects.get(pk=summary.incidents["opened"][0])

    return send


# The rule, in `notify`


def test_an_owned_critical_pages_the_teams_service_and_tells_its_channel_beside_the_default_route(
    live_channels, database
):
    paged = notify(event=EventKind.INCIDENT_OPENED, severity=Level.CRITICAL, title="DB down", team=database)

    assert routes(paged) == {
        ("Slack #critical", "#critical", None),
        ("Slack #incidents", "#incidents", None),  # the default route keeps #incidents informed
        ("Slack #broxiva-database", "#broxiva-database", "database"),
        ("PagerDuty", "Database (PagerDuty)", "database"),  # instead of the default service, not as well
    }


def test_a_team_without_a_routing_key_is_paged_through_the_default_service(live_channels):
    devops = Team.objects.get(slug="devops")

    paged = notify(event=EventKind.INCIDENT_OPENED, severity=Level.CRITICAL, title="Pods crashing", team=devops)

    assert ("PagerDuty", "PagerDuty", None) in routes(paged)
    assert ("Slack #broxiva-devops", "#broxiva-devops", "devops") in routes(paged)


def test_the_team_channel_hears_only_what_routing_sends_to_chat(live_channels, database):
    test_page = notify(event=EventKind.INCIDENT_OPENED, severity=Level.CRITICAL, title="Test", team=database,
                       channel_kinds=["pager", "email"])  # fmt: skip

    assert routes(test_page) == {("PagerDuty", "Database (PagerDuty)", "database")}


def test_a_team_whose_slack_channel_has_no_enabled_chat_channel_gets_the_default_route_only(live_channels, database):
    Channel.objects.filter(chat_channel="#broxiva-database").update(enabled=False)
    backend = Team.objects.get(slug="backend")  # the seeds give it no Slack channel

    for team in (database, backend):
        sent = notify(event=EventKind.INCIDENT_OPENED, severity=Level.WARNING, title="Slow", team=team)
        assert routes(sent) == {("Slack #warnings", "#warnings", None), ("Slack #incidents", "#incidents", None)}


def test_no_owner_keeps_todays_routing(live_channels):
    sent = notify(event=EventKind.INCIDENT_OPENED, severity=Level.CRITICAL, title="Declared by hand")

    assert routes(sent) == {
        ("Slack #critical", "#critical", None),
        ("Slack #incidents", "#incidents", None),
        ("PagerDuty", "PagerDuty", None),
    }


def test_the_page_carries_the_teams_routing_key_and_errors_never_quote_it(live_channels, database, receiver):
    paged = notify(event=EventKind.INCIDENT_OPENED, severity=Level.CRITICAL, title="DB down", team=database)
    row = paged.deliveries.get(channel__kind="pager")

    deliver([row.pk])

    bodies = [json.loads(request.body) for request in receiver.requests if request.path == PAGER_PATH]
    assert [body["routing_key"] for body in bodies] == [TEAM_KEY]
    row.refresh_from_db()
    assert row.status == Delivery.Status.DELIVERED


def pages(notification: Notification) -> list[str | None]:
    """The owner team of each page the notification makes (None: the pager channel's own service), by slug."""
    rows = notification.deliveries.filter(channel__kind="pager").select_related("team")
    return sorted((row.team.slug if row.team else None for row in rows), key=lambda slug: slug or "")


@pytest.mark.parametrize(
    ("first", "later", "expected"),
    [
        ("database", "devops", ["database"]),  # owner changed: resolve where the page went, not the new owner
        (None, "database", [None]),  # paged through the default service before the team had a key
        ("database", None, ["database"]),
    ],
)
def test_acknowledge_and_resolve_go_where_the_key_was_paged(live_channels, database, first, later, expected):
    devops = Team.objects.get(slug="devops")
    devops.pagerduty_routing_key = "DEVOPSKEY00000000000000000000000"
    devops.save()
    teams = {"database": database, "devops": devops, None: None}
    page = {"event": EventKind.INCIDENT_OPENED, "severity": Level.CRITICAL, "title": "DB down", "source": "incident:7"}
    notify(**page, team=teams[first])

    for action in (PagerAction.ACKNOWLEDGE, PagerAction.RESOLVE):
        follow_up = notify(**page | {"event": EventKind.INCIDENT_UPDATED}, pager_action=action, team=teams[later])
        assert pages(follow_up) == expected, action


def test_a_resolve_reaches_every_service_its_key_was_paged_through(live_channels, database):
    devops = Team.objects.get(slug="devops")
    devops.pagerduty_routing_key = "DEVOPSKEY00000000000000000000000"
    devops.save()
    page = {"event": EventKind.INCIDENT_OPENED, "severity": Level.CRITICAL, "title": "DB down", "source": "incident:8"}
    notify(**page, team=database)
    notify(**page, team=devops)  # the owner changed and the incident paged again
    notify(**page | {"source": "incident:9"}, team=None)  # another key: not this one's business

    resolved = notify(**page | {"event": EventKind.INCIDENT_RESOLVED}, pager_action=PagerAction.RESOLVE, team=devops)

    assert pages(resolved) == ["database", "devops"]


# From the alert intake


def test_a_catalogued_alert_opens_an_incident_owned_by_its_team_and_routed_to_it(ingest, database):
    incident = ingest("DatabaseDown")

    opened = Notification.objects.get(event_kind=EventKind.INCIDENT_OPENED)
    assert ("Slack #broxiva-database", "#broxiva-database", "database") in routes(opened)
    assert ("PagerDuty", "Database (PagerDuty)", "database") in routes(opened)
    assert ("Slack #incidents", "#incidents", None) in routes(opened)
    assert not opened.deliveries.filter(channel__kind="pager", team__isnull=True).exists()
    assert owner_team(Incident.objects.get(pk=incident.pk)) == database
    assert incident_row(incident.pk)["owner_team"] == "database"


def test_escalation_pages_of_an_owned_incident_go_to_the_team(ingest, database):
    ingest("DatabaseDown")

    assert escalation_sweep(now=T0 + timedelta(minutes=1))  # P1: level 2 at once

    escalated = Notification.objects.filter(event_kind=EventKind.INCIDENT_ESCALATED)
    assert escalated.exists()
    assert all(("PagerDuty", "Database (PagerDuty)", "database") in routes(row) for row in escalated)


def test_later_events_of_an_owned_incident_follow_the_owner(ingest, database, make_user):
    incident = ingest("DatabaseDown")
    commander = make_user(Role.INCIDENT_COMMANDER, username="cora")

    incident_transition(incident=incident, to_status="resolved", actor=commander, confirm=True,
                        now=T0 + timedelta(minutes=30))  # fmt: skip

    resolved = Notification.objects.get(event_kind=EventKind.INCIDENT_RESOLVED)
    assert ("Slack #broxiva-database", "#broxiva-database", "database") in routes(resolved)
    resolve_pages = Delivery.objects.filter(channel__kind="pager", notification__pager_action="resolve")
    assert {(row.team.slug if row.team else None) for row in resolve_pages} == {"database"}


def test_the_most_severe_catalogue_entry_owns_a_group_of_several_alert_names(live_channels, database):
    devops = Team.objects.get(slug="devops")
    AlertRuleFactory(name="QueueBacklog", severity=Severity.objects.get(code="P3"), owner_team=devops)
    integration = integration_create(name="alertmanager", created_by=None).integration
    alerts = [
        IncomingAlert(fingerprint=name, status="firing", starts_at=T0, ends_at=None, annotations={},
                      labels={"alertname": name, "severity": severity, "cluster": "prod"})
        for name, severity in (("QueueBacklog", "warning"), ("SomethingOdd", "critical"), ("DatabaseDown", "high"))
    ]  # fmt: skip

    alert_ingest(integration=integration, alerts=alerts, group_key='{}:{cluster="prod"}', now=T0)

    incident = Incident.objects.get()
    assert owner_team(incident) == database  # DatabaseDown's P1 entry outranks DevOps' P3 QueueBacklog
    opened = Notification.objects.get(event_kind=EventKind.INCIDENT_OPENED)
    assert ("PagerDuty", "Database (PagerDuty)", "database") in routes(opened)


def test_an_alert_outside_the_catalogue_keeps_todays_routing(ingest):
    incident = ingest("SomethingOdd")

    opened = Notification.objects.get(event_kind=EventKind.INCIDENT_OPENED)
    assert not opened.deliveries.filter(team__isnull=False).exists()
    assert ("PagerDuty", "PagerDuty", None) in routes(opened)
    assert owner_team(incident) is None


def test_the_incident_page_and_api_name_the_owner(ingest, database, make_user, token_client):
    owned, other = ingest("DatabaseDown"), ingest("SomethingOdd", fingerprint="f2")
    page = Client()
    page.force_login(make_user(Role.VIEWER, username="vic"))
    api = token_client(Role.VIEWER)

    assert "owned by" in page.get(f"/incidents/{owned.pk}/").content.decode()
    assert "#broxiva-database" in page.get(f"/incidents/{owned.pk}/").content.decode()
    assert "owned by" not in page.get(f"/incidents/{other.pk}/").content.decode()
    assert api.get(f"/api/v1/incidents/{owned.pk}/").json()["owner_team"] == "database"
    assert api.get(f"/api/v1/incidents/{other.pk}/").json()["owner_team"] is None
    listed = {row["id"]: row["owner_team"] for row in api.get("/api/v1/incidents/").json()["results"]}
    assert listed == {owned.pk: "database", other.pk: None}


def test_the_intake_reads_the_catalogue_once_per_payload_and_not_when_nothing_opens(live_channels):
    integration = integration_create(name="alertmanager", created_by=None).integration

    def catalogue_reads(names: list[str], at: datetime) -> int:
        alerts = [IncomingAlert(fingerprint=f"{name}-{n}", status="firing", starts_at=at, ends_at=None, annotations={},
                                labels={"alertname": name, "instance": f"i-{n}"})
                  for n, name in enumerate(names)]  # fmt: skip
        with CaptureQueriesContext(connection) as captured:
            alert_ingest(integration=integration, alerts=alerts, now=at)  # no groupKey: each alert its own group
        return sum('FROM "operations_alertrule"' in query["sql"] for query in captured)

    assert catalogue_reads(["DatabaseDown", "HighLatency", "SomethingOdd", "DatabaseDown"], T0) == 1
    assert (
        catalogue_reads(["DatabaseDown", "HighLatency", "SomethingOdd", "DatabaseDown"], T0 + timedelta(minutes=1)) == 0
    )
