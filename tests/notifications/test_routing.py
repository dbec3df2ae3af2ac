"""Routing by event kind as well as severity: the seeds' #incidents, #alerts, #maintenance, #security-incidents and
#devops channels beside the severity channels."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from incidents.alert_services import alert_ingest, integration_create
from incidents.alerts import IncomingAlert
from incidents.models import Incident, Severity
from incidents.services import incident_change_severity, incident_declare, incident_flag, incident_post_update
from operations.services.deployments import deployment_record
from portal.accounts.roles import Role
from portal.notifications.models import Channel, EventKind, Notification, RoutingRule
from portal.notifications.models import Severity as Level
from portal.notifications.services import notify, routed_channels

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def chat(notification: Notification) -> set[str]:
    return set(notification.deliveries.filter(channel__kind=Channel.Kind.CHAT).values_list("address", flat=True))


def channels(notification: Notification) -> set[str]:
    return set(notification.deliveries.values_list("channel__name", flat=True))


@pytest.fixture
def declare(live_channels, api_service, make_user):
    reporter = make_user(Role.RESPONDER, username="rami")

    def make(code: str, **fields: object) -> Incident:
        return incident_declare(
            title="Checkout errors", severity=Severity.objects.get(code=code), reporter=reporter,
            services=[api_service], detected_at=T0, now=T0, **fields,
        )  # fmt: skip

    make.reporter = reporter
    return make


@pytest.mark.parametrize(
    ("code", "expected"),
    [("P1", {"#critical", "#incidents"}), ("P2", {"#critical", "#incidents"}), ("P3", {"#warnings", "#incidents"}),
     ("P4", {"#info"})],
)  # fmt: skip
def test_declarations_of_p1_to_p3_reach_incidents(declare, code, expected):
    declare(code)
    assert chat(Notification.objects.get(event_kind=EventKind.INCIDENT_OPENED)) == expected


def test_every_status_update_reaches_incidents_and_pages_nobody(declare):
    incident = declare("P2")  # internal: not public, so no stakeholder update
    incident_post_update(incident=incident, label="investigating", description="Looking at the DB",
                         actor=declare.reporter, now=T0 + timedelta(minutes=5))  # fmt: skip

    update = Notification.objects.get(event_kind=EventKind.INCIDENT_STATUS_UPDATE)
    assert channels(update) == {"Slack #incidents"}
    assert "Looking at the DB" in update.summary
    assert not Notification.objects.filter(event_kind=EventKind.INCIDENT_UPDATED).exists()


def test_security_flags_reach_security_incidents_and_other_flags_do_not(declare):
    incident = declare("P3", flags=["payment_failure"])
    assert not Notification.objects.filter(event_kind=EventKind.INCIDENT_SECURITY_FLAG).exists()

    incident_flag(incident=incident, flag=Incident.Flag.DATA_BREACH, actor=declare.reporter, now=T0)

    flagged = Notification.objects.get(event_kind=EventKind.INCIDENT_SECURITY_FLAG)
    assert channels(flagged) == {"Slack #security-incidents"}
    assert "Data breach suspected" in flagged.title


def test_declared_with_an_attack_flag_reaches_security_incidents(declare):
    declare("P2", flags=["active_attack"])
    assert chat(Notification.objects.get(event_kind=EventKind.INCIDENT_SECURITY_FLAG)) == {"#security-incidents"}


def test_severity_changes_are_their_own_event_kind(declare):
    incident = declare("P3")
    incident_change_severity(incident=incident, severity=Severity.objects.get(code="P4"), actor=declare.reporter,
                             reason="workaround in place", now=T0)  # fmt: skip
    changed = Notification.objects.get(event_kind=EventKind.INCIDENT_SEVERITY_CHANGED)
    assert "P3 → P4" in changed.title
    assert channels(changed) == set()  # nobody routed it: the rule is there to add in the admin


def test_alert_intake_summary_reaches_alerts_once_per_payload(live_channels):
    integration = integration_create(name="alertmanager", created_by=None).integration
    alert = IncomingAlert(fingerprint="f1", status="firing", labels={"alertname": "HighLatency", "severity": "warning"},
                          annotations={}, starts_at=T0, ends_at=None)  # fmt: skip

    alert_ingest(integration=integration, alerts=[alert], now=T0)
    alert_ingest(integration=integration, alerts=[alert], now=T0 + timedelta(minutes=1))  # a repeat: unchanged

    summary = Notification.objects.get(event_kind=EventKind.ALERT_RECEIVED)
    assert channels(summary) == {"Slack #alerts"}
    assert summary.title == "alertmanager: 1 opened"


def test_deployments_reach_devops(live_channels, api_service, freeze_rules_off):
    deployment_record(service=api_service, environment="staging", version="2.5.0", commit="a" * 40, who="ci",
                      actor=None, now=T0)  # fmt: skip
    deployed = Notification.objects.get(event_kind=EventKind.DEPLOYMENT)
    assert channels(deployed) == {"Slack #devops"}
    assert deployed.title == "API 2.5.0 to Staging: Started"


def test_maintenance_notices_reach_maintenance(live_channels):
    for event in (EventKind.MAINTENANCE_SCHEDULED, EventKind.MAINTENANCE_STARTED, EventKind.MAINTENANCE_COMPLETED):
        assert chat(notify(event=event, severity=Level.INFO, title="DB maintenance")) == {"#info", "#maintenance"}


def test_a_rule_without_severity_or_kinds_takes_everything(live_channels):
    RoutingRule.objects.filter(channel=live_channels["Slack #devops"]).update(event_kinds=[])
    assert "#devops" in chat(notify(event=EventKind.TEST, severity=Level.INFO, title="x"))


def test_preview_says_what_goes_where_disabled_channels_included(token_client):
    # Freshly seeded: the chat channels are disabled until configured, yet the preview names them.
    response = token_client(Role.VIEWER).get(
        reverse("api:routing-rule-preview"), {"event": "incident.status_update", "severity": "critical"}
    )
    assert response.status_code == 200
    assert [(row["name"], row["enabled"]) for row in response.json()] == [("Slack #incidents", False)]
    warned = routed_channels(event="incident.opened", severity="warning", enabled_only=False)
    assert {channel.name for channel in warned} == {"Email", "Slack #warnings", "Slack #incidents"}


def test_preview_names_a_bad_event_kind(token_client):
    response = token_client(Role.VIEWER).get(reverse("api:routing-rule-preview"), {"event": "x", "severity": "info"})
    assert response.status_code == 400
    assert "event" in response.json()["errors"]


def test_admins_route_event_kinds_and_unknown_kinds_are_refused(token_client):
    admin = token_client(Role.ADMIN)
    devops = Channel.objects.get(name="Slack #devops")
    url = reverse("api:routing-rule-list")
    bad = admin.post(url, {"severity": "critical", "channel": devops.pk, "event_kinds": ["nope"]}, format="json")
    assert bad.status_code == 400
    assert "event_kinds" in bad.json()["errors"]
    body = {"severity": "critical", "channel": devops.pk, "event_kinds": ["incident.opened"]}
    good = admin.post(url, body, format="json")
    assert good.status_code == 201
    assert RoutingRule.objects.get(pk=good.json()["id"]).event_kinds == ["incident.opened"]


def test_admin_preview_page(client, make_user):
    client.force_login(make_user(Role.ADMIN, is_staff=True))
    url = reverse("admin:notifications_routingrule_preview")
    assert "What goes where" in client.get(reverse("admin:notifications_routingrule_changelist")).content.decode()
    page = client.get(url, {"event": "alert.received", "severity": "info"}).content.decode()
    assert "Slack #alerts" in page
    assert "disabled, sends nothing" in page
    assert "Slack #info" not in page
