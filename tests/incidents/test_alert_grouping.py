"""Alert grouping and bulk intake: incidents by group, attachment without a page, counts, limits, query bounds."""

import json
import re
from collections import Counter
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.models import Alert, AlertGroup, Incident, Integration, Service, TimelineEvent
from incidents.services import incident_transition
from portal.accounts.roles import Role
from portal.core.selectors import audit_chain_verify
from portal.notifications.models import EventKind, Notification
from tests.incidents.alertmanager import STARTS, WEBHOOK, alert, payload, resolved, webhook_client

BY_SERVICE = ("alertname", "service")  # the Alertmanager route's group_by in these tests


@pytest.fixture
def checkout(db):
    return Service.objects.create(name="Checkout", slug="checkout", tier=Service.Tier.CRITICAL)


@pytest.fixture
def am(db):
    integration, client = webhook_client()
    client.integration = integration
    return client


@pytest.fixture
def by_labels(db):
    """An integration that groups by its own labels (service), whatever Alertmanager's route says."""
    integration, client = webhook_client("alertmanager-by-service")
    Integration.objects.filter(pk=integration.pk).update(grouping_labels=["service"])
    client.integration = Integration.objects.get(pk=integration.pk)
    return client


def send(client: APIClient, body: dict[str, object]) -> dict[str, object]:
    response = client.post(WEBHOOK, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def pods(n: int, *, start: int = 0, **labels: str) -> list[dict[str, object]]:
    labels = {"service": "checkout", "severity": "warning", **labels}
    return [alert("PodCrashLooping", pod=f"checkout-{i}", **labels) for i in range(start, start + n)]


def opened_pages() -> int:
    return Notification.objects.filter(event_kind=EventKind.INCIDENT_OPENED).count()


# Grouping


def test_a_groups_alerts_share_one_incident_and_later_ones_attach_without_a_page(am, checkout):
    first = send(am, payload(*pods(3), group_by=("alertname", "service")))
    pages = opened_pages()
    later = send(am, payload(*pods(2, start=3), group_by=("alertname", "service")))

    incident = Incident.objects.get()
    assert (first["opened"], first["incidents"]["opened"]) == (3, [incident.pk])
    assert (later["attached"], later["opened"], later["incidents"]["attached"]) == (2, 0, [incident.pk])
    assert opened_pages() == pages == 1  # attaching pages no one
    assert incident.alert_group.alert_count == 5
    assert Alert.objects.filter(incident=incident).count() == 5
    # One timeline entry per payload.
    messages = [message for kind, message in incident.timeline.values_list("kind", "message") if kind == "alert"]
    assert messages == [
        "3 alerts: " + "; ".join(["PodCrashLooping firing since 2025-06-02 09:30:00 UTC"] * 3),
        "2 alerts: "
        + "; ".join(["PodCrashLooping joined the incident (P3), firing since 2025-06-02 09:30:00 UTC"] * 2),
    ]
    send(am, payload(resolved(pods(1, start=4)[0]), group_by=("alertname", "service")))
    assert (
        incident.timeline.order_by("pk").last().message == "Alert PodCrashLooping: resolved at 2025-06-02 09:42:00 UTC"
    )


def test_a_storms_alerts_make_one_timeline_entry_per_incident_naming_ten(am, checkout):
    send(am, payload(*pods(25), group_by=BY_SERVICE))

    entry = Incident.objects.get().timeline.get(kind="alert")
    assert entry.message.startswith("25 alerts: PodCrashLooping firing since 2025-06-02 09:30:00 UTC; ")
    assert entry.message.count("PodCrashLooping") == 10
    assert entry.message.endswith("; and 15 more")
    # The entry's data names every alert.
    stored = dict(Alert.objects.values_list("pk", "fingerprint"))
    assert {(told["alert"], told["fingerprint"]) for told in entry.data["alerts"]} == set(stored.items())
    assert {told["status"] for told in entry.data["alerts"]} == {"firing"}


def test_alerts_of_different_groups_open_different_incidents(am, checkout):
    send(am, payload(*pods(2), group_by=BY_SERVICE))
    send(am, payload(alert("HighLatency", service="checkout", severity="warning"), group_by=BY_SERVICE))

    assert Incident.objects.count() == 2
    assert sorted(AlertGroup.objects.values_list("alert_count", flat=True)) == [1, 2]


def test_an_integrations_grouping_labels_split_one_payload_into_groups(by_labels, checkout):
    body = payload(
        *pods(3),
        alert("HighLatency", service="checkout", severity="critical"),
        *[alert("DiskFilling", service="search", volume=f"v{i}") for i in range(2)],
        alert("Heartbeat"),  # no service label: a group of its own (service="")
        group_by=(),
    )

    answer = send(by_labels, body)

    assert answer["opened"] == 7
    groups = {tuple(group.labels.items()): group for group in AlertGroup.objects.select_related("incident")}
    assert {labels: group.alert_count for labels, group in groups.items()} == {
        (("service", "checkout"),): 4, (("service", "search"),): 2, (("service", ""),): 1,
    }  # fmt: skip
    # The group's incident is named after its most severe alert and takes its severity.
    checkout_incident = groups[(("service", "checkout"),)].incident
    assert (checkout_incident.title, checkout_incident.severity.code) == ("HighLatency on Checkout", "P1")
    assert list(checkout_incident.services.all()) == [checkout]


def test_a_payload_without_a_group_key_makes_a_group_of_each_alert(am, checkout):
    send(am, payload(*pods(3)))

    assert Incident.objects.count() == 3
    assert set(AlertGroup.objects.values_list("alert_count", flat=True)) == {1}


def test_the_same_payload_again_changes_nothing_and_counts_nothing(am, checkout):
    body = payload(*pods(3), group_by=BY_SERVICE)
    send(am, body)
    events = TimelineEvent.objects.count()

    again = send(am, json.loads(json.dumps(body)))

    assert (again["unchanged"], again["attached"], again["opened"]) == (3, 0, 0)
    assert AlertGroup.objects.get().alert_count == 3
    assert TimelineEvent.objects.count() == events


def test_a_resolved_alert_stays_in_its_group_and_the_incident_stays_open(am, checkout):
    crashing = pods(2)
    send(am, payload(*crashing, group_by=BY_SERVICE))

    answer = send(am, payload(resolved(crashing[0]), group_by=BY_SERVICE))

    assert answer["resolved"] == 1
    incident = Incident.objects.get()
    assert incident.is_open
    assert incident.alert_group.alert_count == 2


def test_a_new_firing_after_people_resolved_the_groups_incident_opens_a_new_one(am, checkout, admin_user):
    crashing = pods(2)
    send(am, payload(*crashing, group_by=BY_SERVICE))
    first = Incident.objects.get()
    incident_transition(incident=first, to_status=Incident.Status.RESOLVED, confirm=True, actor=admin_user)

    resent = send(am, payload(*crashing, group_by=BY_SERVICE))  # the same firings: nothing re-opens
    newcomer = send(am, payload(*pods(1, start=2), group_by=BY_SERVICE))  # a new alert of the group
    refired = send(am, payload(alert("PodCrashLooping", pod="checkout-0", service="checkout", severity="warning",
                                     starts_at=STARTS + timedelta(hours=1)), group_by=BY_SERVICE))  # fmt: skip

    assert resent["unchanged"] == 2
    second = Incident.objects.exclude(pk=first.pk).get()
    assert (newcomer["opened"], newcomer["incidents"]["opened"]) == (1, [second.pk])
    assert (refired["attached"], refired["incidents"]["attached"]) == (1, [second.pk])
    groups = AlertGroup.objects.order_by("pk")
    assert [(group.incident_id, group.is_open, group.alert_count) for group in groups] == [
        (first.pk, None, 2), (second.pk, True, 2),
    ]  # fmt: skip
    assert opened_pages() == 2


def test_suppression_holds_within_a_group(am, checkout):
    down = alert("ServiceDown", service="checkout", severity="critical")
    slow = alert("HighLatency", service="checkout", severity="warning")

    answer = send(am, payload(slow, down, group_by=("service",)))

    assert (answer["opened"], answer["suppressed"]) == (1, 1)
    incident = Incident.objects.get()
    assert incident.title == "ServiceDown on Checkout"
    assert incident.alert_group.alert_count == 1  # the suppressed alert is not held by the incident
    suppressed = Alert.objects.get(fingerprint=slow["fingerprint"])
    assert (suppressed.incident, suppressed.suppressed_by.alertname) == (None, "ServiceDown")
    assert incident.timeline.filter(kind="note", message__startswith="Suppressed by rule").count() == 1


def test_a_suppressed_alert_joins_its_groups_incident_once_its_suppressor_resolved(am, checkout):
    down = alert("ServiceDown", service="checkout", severity="critical")
    slow = alert("HighLatency", service="checkout", severity="warning")
    send(am, payload(slow, down, group_by=("service",)))
    send(am, payload(resolved(down), group_by=("service",)))

    answer = send(am, payload(slow, group_by=("service",)))

    incident = Incident.objects.get()
    assert (answer["attached"], answer["incidents"]["attached"]) == (1, [incident.pk])
    assert incident.alert_group.alert_count == 2


# Where people see it


def test_the_incident_page_lists_its_alerts_and_the_groups_count(am, checkout, client, make_user):
    send(am, payload(*pods(3), group_by=BY_SERVICE))
    send(am, payload(resolved(pods(1)[0]), group_by=BY_SERVICE))
    incident = Incident.objects.get()
    client.force_login(make_user(Role.VIEWER))

    html = client.get(reverse("incident-detail", args=[incident.pk])).content.decode()

    card = html[html.index('id="incident-alerts"') :]
    card = card[: card.index("</section>")]
    assert "(3 in group)" in card
    assert card.count("<strong>PodCrashLooping</strong>") == 3
    assert card.index("Firing") < card.index("Resolved")  # firing alerts first
    assert '<code>alertname="PodCrashLooping"</code>' in card
    assert '<code>service="checkout"</code>' in card


def test_the_api_gives_the_count_the_groups_and_the_alerts(am, checkout, token_client):
    send(am, payload(*pods(3), group_by=BY_SERVICE))
    incident = Incident.objects.get()
    viewer = token_client(Role.VIEWER)

    detail = viewer.get(reverse("api:incident-detail", args=[incident.pk])).json()
    groups = viewer.get(reverse("api:alert-group-list"), {"incident": incident.pk, "open": "true"}).json()
    alerts = viewer.get(reverse("api:alert-list"), {"incident": incident.pk}).json()

    assert detail["alert_count"] == 3
    assert [(group["incident"], group["alert_count"], group["is_open"]) for group in groups["results"]] == [
        (incident.pk, 3, True)
    ]
    assert groups["results"][0]["labels"] == {"alertname": "PodCrashLooping", "service": "checkout"}
    assert alerts["count"] == 3


def test_an_incident_people_declared_has_no_alert_count(declare, token_client):
    url = reverse("api:incident-detail", args=[declare().pk])
    assert token_client(Role.VIEWER).get(url).json()["alert_count"] is None


def test_admins_set_an_integrations_grouping_labels(am, token_client):
    admin, commander = token_client(Role.ADMIN), token_client(Role.INCIDENT_COMMANDER)
    url = reverse("api:integration-grouping", args=[am.integration.pk])

    changed = admin.post(url, {"grouping_labels": ["service", "alertname"]}, format="json")
    again = admin.post(url, {"grouping_labels": ["service", "alertname"]}, format="json")
    bad = admin.post(url, {"grouping_labels": ["not a label"]}, format="json")
    twice = admin.post(url, {"grouping_labels": ["service", "service"]}, format="json")
    refused = commander.post(url, {"grouping_labels": []}, format="json")

    assert (changed.status_code, changed.json()["grouping_labels"]) == (200, ["service", "alertname"])
    assert again.status_code == 409
    assert (bad.status_code, bad.json()["field"]) == (400, "grouping_labels")
    assert (twice.status_code, twice.json()["field"]) == (400, "grouping_labels")
    assert refused.status_code == 403
    entry = LogEntry.objects.get_for_model(Integration).filter(object_pk=str(am.integration.pk)).latest("pk")
    assert entry.actor == admin.user
    assert "grouping_labels" in entry.changes_dict


def test_an_integration_created_with_grouping_labels_groups_by_them(token_client):
    admin = token_client(Role.ADMIN)
    created = admin.post(
        reverse("api:integration-list"), {"name": "am-eu", "grouping_labels": ["cluster"]}, format="json"
    ).json()
    webhook = APIClient()
    webhook.credentials(HTTP_AUTHORIZATION=f"Bearer {created['token']}")

    send(webhook, payload(alert("A", cluster="eu-1"), alert("B", cluster="eu-1"), alert("C", cluster="eu-2")))

    assert created["integration"]["grouping_labels"] == ["cluster"]
    assert sorted(AlertGroup.objects.values_list("alert_count", flat=True)) == [1, 2]


# Payload limits: a 413 naming the limit, and nothing written


def test_more_alerts_than_the_limit_is_a_413_naming_it(am, settings):
    settings.ALERT_WEBHOOK_MAX_ALERTS = 5

    response = am.post(WEBHOOK, payload(*pods(6), group_by=BY_SERVICE), format="json")

    assert response.status_code == 413
    assert "ALERT_WEBHOOK_MAX_ALERTS" in response.json()["detail"]
    assert "6 alerts, more than 5" in response.json()["detail"]
    assert not Alert.objects.exists()


def test_a_body_over_the_byte_limit_is_a_413_naming_it(am, settings):
    settings.ALERT_WEBHOOK_MAX_BYTES = 2000
    body = json.dumps(payload(*pods(10), group_by=BY_SERVICE))

    response = am.post(WEBHOOK, body, content_type="application/json")

    assert len(body) > 2000
    assert response.status_code == 413
    assert "ALERT_WEBHOOK_MAX_BYTES" in response.json()["detail"]
    assert not Alert.objects.exists()


def test_a_payload_opening_more_groups_than_the_limit_is_a_413_naming_it(by_labels, settings):
    settings.ALERT_WEBHOOK_MAX_NEW_GROUPS = 2
    body = payload(*[alert("Down", service=f"svc-{n}") for n in range(3)])

    response = by_labels.post(WEBHOOK, body, format="json")
    within = by_labels.post(WEBHOOK, payload(*[alert("Down", service=f"svc-{n}") for n in range(2)]), format="json")
    attaching = by_labels.post(WEBHOOK, payload(*[alert("Up", service=f"svc-{n}") for n in range(2)]), format="json")

    assert response.status_code == 413
    assert "ALERT_WEBHOOK_MAX_NEW_GROUPS" in response.json()["detail"]
    assert (within.status_code, attaching.status_code) == (200, 200)  # groups with open incidents cost no incident
    assert Incident.objects.count() == 2


def test_the_default_limits_take_a_storm_of_2000_alerts(settings):
    assert settings.ALERT_WEBHOOK_MAX_ALERTS >= 2000
    assert settings.ALERT_WEBHOOK_MAX_NEW_GROUPS >= 100


# Query bounds: constant in the number of alerts, at most 20 more per new incident


def _queries(client: APIClient, body: dict[str, object]) -> int:
    with CaptureQueriesContext(connection) as captured:
        send(client, body)
    return len(captured)


def _storm(alerts: int, groups: int, *, run: str, services: str = "") -> dict[str, object]:
    """`alerts` new alerts in `groups` services, named `services`-0, -1, ... (by default after the run: new groups)."""
    return payload(*[
        alert(f"HighLatency{n // groups}", service=f"{services or run}-{n % groups}", instance=f"i-{n}", run=run)
        for n in range(alerts)
    ])  # fmt: skip


def test_new_alerts_cost_queries_by_new_incident_not_by_alert(by_labels):
    send(by_labels, _storm(4, 2, run="warm"))  # content types and the like, cached per process

    small = _queries(by_labels, _storm(20, 2, run="a"))
    large = _queries(by_labels, _storm(400, 2, run="b"))
    more_groups = _queries(by_labels, _storm(20, 6, run="c"))

    batches = 0 if connection.vendor == "postgresql" else 20  # SQLite caps a statement's parameters
    assert large <= small + batches, (small, large)
    assert (more_groups - small) / 4 <= 20, (small, more_groups)  # four more new incidents
    assert AlertGroup.objects.filter(alert_count=200).count() == 2


def test_a_new_incident_on_a_known_service_costs_at_most_20_queries(by_labels):
    """Its audit entries (the incident, its services) are sealed with the payload's others, in one go."""
    Service.objects.bulk_create(Service(name=f"{name} {n}", slug=f"{name}-{n}") for name in "abc" for n in range(6))
    send(by_labels, _storm(4, 2, run="warm", services="a"))

    two = _queries(by_labels, _storm(20, 2, run="b", services="b"))
    six = _queries(by_labels, _storm(20, 6, run="c", services="c"))

    assert (six - two) / 4 <= 20, (two, six)
    assert Incident.objects.filter(services__isnull=False).distinct().count() == 2 + 2 + 6
    report = audit_chain_verify(now=timezone.now())
    assert report.ok, report.problem


def test_a_storms_incidents_read_their_escalation_routing_and_subscribers_once_per_payload(db):
    """Six alert rules firing on two services: six incidents, whose escalation levels and routing rules are read
    once, and their services' policy and subscribers once per set of services."""
    integration, client = webhook_client("by-rule-and-service")
    Integration.objects.filter(pk=integration.pk).update(grouping_labels=["alertname", "service"])
    Service.objects.bulk_create(Service(name=f"Svc {n}", slug=f"svc-{n}") for n in range(2))
    send(client, _storm(4, 2, run="warm", services="warm"))  # content types and the like, cached per process

    storm = payload(*[alert(f"Rule{n % 6}", service=f"svc-{n % 2}", instance=f"i-{n}") for n in range(24)])
    with CaptureQueriesContext(connection) as captured:
        send(client, storm)

    assert Incident.objects.filter(services__slug__startswith="svc-").count() == 6
    reads = Counter(table for query in captured for table in re.findall(r'FROM "(\w+)"', query["sql"]))
    # The policy: for each set of services, its own policy then the default (these services name none).
    assert reads["incidents_escalationpolicy"] == 2 * 2
    assert reads["incidents_escalationlevel"] == 1
    # Incident-opened notifications and the payload's summary: one read each.
    assert reads["notifications_routingrule"] == 2
    # One read per set of services: svc-0, svc-1, and none for the summary.
    assert reads["notifications_subscription"] == 3


def test_alerts_attaching_to_open_incidents_cost_the_same_for_10_or_400(by_labels):
    send(by_labels, _storm(4, 2, run="open", services="svc"))

    small = _queries(by_labels, _storm(10, 2, run="x", services="svc"))
    large = _queries(by_labels, _storm(400, 2, run="y", services="svc"))

    batches = 0 if connection.vendor == "postgresql" else 20
    assert large <= small + batches, (small, large)
    assert Incident.objects.count() == 2
    assert sorted(AlertGroup.objects.values_list("alert_count", flat=True)) == [207, 207]


def test_a_label_that_is_no_valid_text_is_a_400_naming_it(am):
    body = payload(alert("Down", service="checkout"))
    body["alerts"][0]["labels"]["pod"] = "\ud800"  # a lone surrogate: JSON can carry it, UTF-8 cannot

    response = am.post(WEBHOOK, json.dumps(body), content_type="application/json")

    assert (response.status_code, response.json()["field"]) == (400, "alerts[0].labels.pod")
    assert not Alert.objects.exists()
