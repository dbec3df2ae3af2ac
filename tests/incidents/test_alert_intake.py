"""Alertmanager intake: incidents by fingerprint, idempotent re-sends, suppression rules, tokens, bad input."""

import copy
import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from incidents import alert_services
from incidents.alert_services import alert_ingest, integration_create, integration_set_enabled
from incidents.alerts import (
    IncomingAlert,
    Rule,
    Source,
    SuppressionIndex,
    parse_label_names,
    parse_matcher,
    parse_matchers,
    severity_code,
)
from incidents.models import Alert, Incident, Integration, Service, Severity, SuppressionRule, TimelineEvent
from incidents.services import incident_transition
from portal.accounts.roles import Role
from tests.incidents.alertmanager import (
    REALISTIC_PAYLOAD,
    STARTS,
    WEBHOOK,
    alert,
    payload,
    resolved,
    webhook_client,
)


@pytest.fixture
def services(db):
    return {
        "checkout": Service.objects.create(name="Checkout", slug="checkout", tier=Service.Tier.CRITICAL),
        "search": Service.objects.create(name="Search API", slug="search", tier=Service.Tier.HIGH),
    }


@pytest.fixture
def am(db):
    """The Alertmanager integration and a client sending its bearer token."""
    integration, client = webhook_client()
    client.integration = integration
    return client


def send(client: APIClient, body: dict[str, object]):
    return client.post(WEBHOOK, body, format="json")


def timeline(incident: Incident) -> list[tuple[str, str]]:
    return list(incident.timeline.values_list("kind", "message"))


# The pure rules


@pytest.mark.parametrize(
    ("label", "code"),
    [("critical", "P1"), ("CRITICAL", "P1"), ("error", "P2"), ("high", "P2"), ("warning", "P3"), ("info", "P4"),
     ("none", "P4"), ("page-me", "P4"), (None, "P4")],
)  # fmt: skip
def test_severity_label_maps_to_an_incident_severity(label, code):
    assert severity_code({"severity": label} if label else {}) == code


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('alertname="ServiceDown"', {"alertname": "ServiceDown"}, True),
        ("alertname=ServiceDown", {"alertname": "ServiceDownX"}, False),
        ('severity!="info"', {}, True),
        ('pod=~".+"', {"pod": "checkout-7d9f"}, True),
        ('pod=~".+"', {}, False),  # a missing label is the empty string
        ('service=~"api"', {"service": "api-gateway"}, False),  # anchored, as in Alertmanager
        ('node!~"test-.*"', {"node": "prod-1"}, True),
        (r'summary="say \"hi\""', {"summary": 'say "hi"'}, True),
    ],
)
def test_matchers_follow_alertmanager(text, labels, expected):
    assert parse_matcher(text).matches(labels) is expected


@pytest.mark.parametrize("text", ["alertname", "=x", 'pod=~"("', '1abc="x"', 'a="unterminated\\"'])
def test_bad_matchers_are_refused_with_the_reason(text):
    with pytest.raises(ValueError, match="matcher|regex|quoted"):
        parse_matcher(text)


def test_rules_need_matchers_on_both_sides_and_label_names():
    with pytest.raises(ValueError, match="at least one matcher"):
        parse_matchers([])
    with pytest.raises(ValueError, match="not a label name"):
        parse_label_names(["service", "bad label"])


def test_suppression_index_follows_inhibit_rule_semantics():
    critical_over_warning = Rule(
        key=1, source=parse_matchers(['severity="critical"']), target=parse_matchers(['severity="warning"']),
        equal=("alertname",),
    )  # fmt: skip
    both_sides = Rule(key=2, source=parse_matchers(['team="a"']), target=parse_matchers(['team="a"']), equal=())
    sources = [
        Source(key=10, labels={"alertname": "Disk", "severity": "critical"}),
        Source(key=11, labels={"team": "a"}),
        Source(key=12, labels={"team": "a", "x": "1"}),
    ]
    index = SuppressionIndex([critical_over_warning, both_sides], sources)

    found = index.suppressor(key=20, labels={"alertname": "Disk", "severity": "warning"})
    assert found is not None
    assert (found[0].key, found[1].key) == (1, 10)
    assert index.suppressor(key=21, labels={"alertname": "Cpu", "severity": "warning"}) is None
    # Alerts matching both sides do not silence each other (nor themselves).
    assert index.suppressor(key=11, labels={"team": "a"}) is None


# Opening, updating, resolving


def test_realistic_payload_opens_one_incident_for_its_group(am, services):
    response = send(am, REALISTIC_PAYLOAD)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert {key: body[key] for key in ("opened", "attached", "updated", "resolved", "suppressed", "unchanged")} == {
        "opened": 2, "attached": 0, "updated": 0, "resolved": 0, "suppressed": 0, "unchanged": 0,
    }  # fmt: skip
    incident = Incident.objects.get()
    assert body["incidents"]["opened"] == [incident.pk]
    # Named after the group's most severe alert; every service its alerts name.
    assert incident.title == "HighErrorRate on Checkout"
    assert incident.severity.code == "P1"
    assert list(incident.services.all()) == [services["checkout"]]
    assert incident.reporter is None
    assert incident.impact_summary == (
        "HTTP 5xx above 5% for 5 minutes\n\ncheckout answers 7.3% of requests with HTTP 5xx (threshold 5%)."
    )
    assert incident.detected_at.isoformat() == "2025-06-02T09:30:12.483000+00:00"
    # One timeline entry for what the payload did to the incident's alerts.
    assert timeline(incident)[1:] == [
        ("alert", "2 alerts: HighErrorRate firing since 2025-06-02 09:30:12 UTC; HighErrorRate firing since "
                  "2025-06-02 09:31:42 UTC"),
    ]  # fmt: skip
    group = incident.alert_group
    assert (group.key, group.labels, group.alert_count) == (
        'groupKey:{}/{severity=~"critical|warning"}:{alertname="HighErrorRate"}', {"alertname": "HighErrorRate"}, 2,
    )  # fmt: skip
    checkout_alert = Alert.objects.get(fingerprint="8d4a3f1c2b9e7a60")
    assert checkout_alert.incident == incident
    assert checkout_alert.status == "firing"
    assert checkout_alert.ends_at is None  # Go's zero time is "not ended"
    assert checkout_alert.generator_url.startswith("http://prometheus.broxiva-monitoring:9090/graph")
    assert checkout_alert.labels["namespace"] == "broxiva-production"
    assert checkout_alert.service == services["checkout"]
    # No service label: the job names it; "search-api" is neither a slug nor a name, so it is kept, not invented.
    search = Alert.objects.get(fingerprint="1f0e9d8c7b6a5f4e")
    assert (search.incident, search.service, search.service_label) == (incident, None, "search-api")


def test_instants_with_an_offset_or_nanoseconds_are_stored_in_utc(am, services):
    """Go writes up to nine fractional digits; a sender may give any offset."""
    body = _with(REALISTIC_PAYLOAD, "alerts.0.startsAt", "2025-06-02T11:30:12.483123456+02:00")
    body = _with(_with(body, "alerts.0.status", "resolved"), "alerts.0.endsAt", "2025-06-02T09:45:00.5Z")

    assert send(am, body).status_code == 200
    checkout_alert = Alert.objects.get(fingerprint="8d4a3f1c2b9e7a60")
    assert checkout_alert.starts_at == datetime(2025, 6, 2, 9, 30, 12, 483123, tzinfo=UTC)
    assert checkout_alert.ends_at == datetime(2025, 6, 2, 9, 45, 0, 500000, tzinfo=UTC)


def test_an_alert_alone_in_its_group_names_an_unknown_service_in_the_title(am, services):
    send(am, payload(alert("HighErrorRate", job="search-api", severity="warning")))

    incident = Incident.objects.get()
    assert (incident.title, incident.severity.code) == ("HighErrorRate on search-api (unknown service)", "P3")


def test_job_label_names_the_service_by_name_case_insensitively(am, services):
    send(am, payload(alert("SlowQueries", job="SEARCH API", severity="error")))

    incident = Incident.objects.get()
    assert (incident.title, incident.severity.code) == ("SlowQueries on Search API", "P2")
    assert list(incident.services.all()) == [services["search"]]


def test_unknown_service_is_recorded_not_invented(am, services):
    send(am, payload(alert("HighLatency", service="recommendations", severity="warning")))

    stored = Alert.objects.get()
    assert (stored.service, stored.service_label) == (None, "recommendations")
    assert stored.incident.title == "HighLatency on recommendations (unknown service)"
    assert not stored.incident.services.exists()
    assert Service.objects.count() == 2


def test_same_payload_twice_changes_nothing_the_second_time(am, services):
    first = send(am, REALISTIC_PAYLOAD).json()
    before = {row.pk: row for row in Alert.objects.all()}
    events, incidents = TimelineEvent.objects.count(), Incident.objects.count()

    second = send(am, copy.deepcopy(REALISTIC_PAYLOAD)).json()

    assert second["unchanged"] == 2
    assert second["opened"] == second["updated"] == 0
    assert [a["incident"] for a in second["alerts"]] == [a["incident"] for a in first["alerts"]]
    assert (Incident.objects.count(), TimelineEvent.objects.count()) == (incidents, events)
    for row in Alert.objects.all():
        old = before[row.pk]
        assert (row.status, row.labels, row.annotations, row.starts_at, row.incident_id) == (
            old.status, old.labels, old.annotations, old.starts_at, old.incident_id,
        )  # fmt: skip
        assert row.last_received_at >= old.last_received_at  # Alertmanager is still sending it


def test_changed_annotation_updates_the_incident_timeline_once(am, services):
    firing = alert("HighLatency", service="checkout", severity="warning")
    send(am, payload(firing))
    changed = {**firing, "annotations": {"summary": "p99 latency 2.4 s"}}

    body = send(am, payload(changed)).json()
    again = send(am, payload(changed)).json()

    incident = Incident.objects.get()
    assert (body["updated"], again["unchanged"]) == (1, 1)
    assert body["incidents"]["updated"] == [incident.pk]
    assert timeline(incident)[-1] == ("alert", "Alert HighLatency: summary: p99 latency 2.4 s")
    assert len(timeline(incident)) == 3


def test_resolved_alert_is_recorded_on_the_timeline_and_the_incident_stays_open(am, services):
    firing = alert("ServiceDown", service="checkout", severity="critical")
    send(am, payload(firing))

    body = send(am, payload(resolved(firing))).json()
    again = send(am, payload(resolved(firing))).json()

    incident = Incident.objects.get()
    assert (body["resolved"], again["unchanged"]) == (1, 1)
    assert body["incidents"]["resolved"] == [incident.pk]
    assert incident.status == Incident.Status.TRIAGE  # people resolve incidents, not alerts
    assert timeline(incident)[-1] == ("alert", "Alert ServiceDown: resolved at 2025-06-02 09:42:00 UTC")
    stored = Alert.objects.get()
    assert stored.status == "resolved"
    assert stored.ends_at == STARTS + timedelta(minutes=12, microseconds=0)


def test_alert_firing_again_while_its_incident_is_open_updates_that_incident(am, services):
    firing = alert("ServiceDown", service="checkout", severity="critical")
    send(am, payload(firing))
    send(am, payload(resolved(firing)))
    refire = alert("ServiceDown", service="checkout", severity="critical", starts_at=STARTS + timedelta(hours=1))

    body = send(am, payload(refire)).json()

    assert body["updated"] == 1
    incident = Incident.objects.get()
    assert timeline(incident)[-1] == ("alert", "Alert ServiceDown: firing again since 2025-06-02 10:30:00 UTC")


def test_new_firing_after_people_resolved_the_incident_opens_a_new_one(am, services, admin_user):
    firing = alert("ServiceDown", service="checkout", severity="critical")
    send(am, payload(firing))
    first = Incident.objects.get()
    incident_transition(incident=first, to_status=Incident.Status.RESOLVED, confirm=True, actor=admin_user)

    resent = send(am, payload(firing)).json()  # the same firing, re-sent: nothing re-opens
    refire = alert("ServiceDown", service="checkout", severity="critical", starts_at=STARTS + timedelta(hours=2))
    body = send(am, payload(refire)).json()

    assert resent["unchanged"] == 1
    assert body["opened"] == 1
    second = Incident.objects.exclude(pk=first.pk).get()
    assert body["alerts"][0]["incident"] == second.pk
    rows = Alert.objects.order_by("pk")
    assert [(row.is_open, row.incident_id) for row in rows] == [(None, first.pk), (True, second.pk)]


def test_resolved_alert_never_seen_firing_is_stored_without_an_incident(am, services):
    body = send(am, payload(resolved(alert("DiskSpaceCritical", service="checkout", severity="critical")))).json()

    assert (body["resolved"], body["opened"]) == (1, 0)
    assert not Incident.objects.exists()
    assert Alert.objects.get().status == "resolved"


def test_a_failure_midway_leaves_nothing_behind(am, services, monkeypatch):
    real_declare = alert_services.incident_declare
    calls = []

    def declare_then_fail(**kwargs):
        calls.append(kwargs["title"])
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real_declare(**kwargs)

    monkeypatch.setattr(alert_services, "incident_declare", declare_then_fail)
    alerts = [
        IncomingAlert(fingerprint=f"f{n}", status="firing", labels={"alertname": f"A{n}"}, annotations={},
                      starts_at=STARTS, ends_at=None)
        for n in range(3)
    ]  # fmt: skip

    with pytest.raises(RuntimeError):
        alert_ingest(integration=am.integration, alerts=alerts)

    assert len(calls) == 2
    assert not Alert.objects.exists()
    assert not Incident.objects.exists()


# Suppression rules (seeded)


def test_seeded_rules_are_data(db):
    assert list(SuppressionRule.objects.values_list("name", flat=True)) == [
        "ServiceDown suppresses HighLatency",
        "NodeNotReady suppresses pod alerts on that node",
        "Critical suppresses the same warning",
    ]


def test_service_down_suppresses_high_latency_of_the_same_service(am, services):
    down = alert("ServiceDown", service="checkout", severity="critical")
    slow = alert("HighLatency", service="checkout", severity="warning")
    slow_elsewhere = alert("HighLatency", service="search", severity="warning")

    body = send(am, payload(slow, down, slow_elsewhere)).json()

    assert (body["opened"], body["suppressed"]) == (2, 1)
    suppressed = Alert.objects.get(fingerprint=slow["fingerprint"])
    source = Alert.objects.get(fingerprint=down["fingerprint"])
    assert suppressed.incident is None
    assert suppressed.suppressed_by == source
    assert suppressed.suppression_rule.name == "ServiceDown suppresses HighLatency"
    assert Alert.objects.get(fingerprint=slow_elsewhere["fingerprint"]).incident is not None
    kind, message = timeline(source.incident)[-1]
    assert kind == "note"
    assert message.startswith("Suppressed by rule “ServiceDown suppresses HighLatency”, no incident opened:")
    assert "HighLatency (prometheus=broxiva-monitoring/k8s, service=checkout, severity=warning)" in message


def test_node_not_ready_suppresses_pod_alerts_on_that_node(am, services):
    send(am, payload(alert("KubeNodeNotReady", node="aks-pool1-0001", severity="critical")))
    on_node = alert("KubePodCrashLooping", pod="checkout-7d9f", node="aks-pool1-0001", severity="warning")
    other_node = alert("KubePodCrashLooping", pod="search-55c1", node="aks-pool1-0002", severity="warning")

    body = send(am, payload(on_node, other_node)).json()

    assert (body["suppressed"], body["opened"]) == (1, 1)
    node_alert = Alert.objects.get(alertname="KubeNodeNotReady")
    assert Alert.objects.get(fingerprint=on_node["fingerprint"]).suppressed_by == node_alert
    assert timeline(node_alert.incident)[-1][0] == "note"


def test_critical_suppresses_the_same_warning_on_the_same_service(am, services):
    critical = alert("HighErrorRate", service="checkout", severity="critical")
    warning = alert("HighErrorRate", service="checkout", severity="warning")
    other_service = alert("HighErrorRate", service="search", severity="warning")
    other_alert = alert("HighMemory", service="checkout", severity="warning")

    body = send(am, payload(critical, warning, other_service, other_alert)).json()

    assert (body["opened"], body["suppressed"]) == (3, 1)
    assert Alert.objects.get(fingerprint=warning["fingerprint"]).suppression_rule.name == (
        "Critical suppresses the same warning"
    )


def test_a_source_without_the_equal_label_suppresses_nothing(am, services):
    # Labels missing on both sides would compare equal: the seeded rules require the source to have them.
    body = send(am, payload(alert("Disk", severity="critical"), alert("Disk", severity="warning", x="1"))).json()

    assert (body["opened"], body["suppressed"]) == (2, 0)


def test_suppressed_alert_opens_its_incident_once_its_suppressor_resolved(am, services):
    down = alert("ServiceDown", service="checkout", severity="critical")
    slow = alert("HighLatency", service="checkout", severity="warning")
    send(am, payload(down, slow))
    resent = send(am, payload(slow)).json()
    send(am, payload(resolved(down)))

    body = send(am, payload(slow)).json()

    assert resent["unchanged"] == 1  # still suppressed by the same alert: nothing new
    assert body["opened"] == 1
    row = Alert.objects.get(fingerprint=slow["fingerprint"])
    assert (row.suppressed_by, row.suppression_rule) == (None, None)
    assert row.incident.title == "HighLatency on Checkout"


def test_suppressed_alerts_are_listed_with_a_filter(am, services, token_client):
    send(am, payload(alert("ServiceDown", service="checkout"), alert("HighLatency", service="checkout")))
    viewer = token_client(Role.VIEWER)

    suppressed = viewer.get(reverse("api:alert-list"), {"suppressed": "true"}).json()
    not_suppressed = viewer.get(reverse("api:alert-list"), {"suppressed": "false"}).json()

    assert [row["alertname"] for row in suppressed["results"]] == ["HighLatency"]
    assert suppressed["results"][0]["suppression_rule"] == "ServiceDown suppresses HighLatency"
    assert [row["alertname"] for row in not_suppressed["results"]] == ["ServiceDown"]


def test_many_suppressed_alerts_make_one_note(am, services):
    send(am, payload(alert("NodeNotReady", node="n1")))
    pods = [alert("PodNotReady", pod=f"p{n}", node="n1") for n in range(25)]

    send(am, payload(*pods))

    node_incident = Alert.objects.get(alertname="NodeNotReady").incident
    notes = node_incident.timeline.filter(kind="note")
    assert notes.count() == 1
    assert notes.get().message.endswith("and 15 more")
    assert len(notes.get().data["alerts"]) == 25


def test_an_invalid_stored_rule_is_skipped_and_logged(am, services, caplog):
    SuppressionRule.objects.create(name="broken", source_matchers=["not a matcher"], target_matchers=['a="b"'])

    with caplog.at_level(logging.ERROR, logger="incidents.alert_services"):
        body = send(am, payload(alert("ServiceDown", service="checkout"), alert("HighLatency", service="checkout")))

    assert body.json()["suppressed"] == 1  # the valid rules still apply
    assert "Suppression rule 'broken' is invalid and ignored" in caplog.text


# Idempotency and races: the database keeps one open alert per fingerprint


def test_one_open_alert_per_fingerprint_is_a_database_constraint(am):
    fields = {"integration": am.integration, "fingerprint": "abc", "status": "firing", "alertname": "X",
              "starts_at": STARTS, "first_received_at": STARTS, "last_received_at": STARTS}  # fmt: skip
    Alert.objects.create(**fields)
    Alert.objects.create(**fields, is_open=None)
    Alert.objects.create(**fields, is_open=None)  # any number of superseded ones
    Alert.objects.create(**{**fields, "integration": integration_create(name="other", created_by=None).integration})

    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(**fields, is_open=False)  # False would be a second kind of "closed": refused


def test_duplicate_fingerprints_in_one_payload_are_refused(am):
    down = alert("ServiceDown", service="checkout")

    response = send(am, payload(down, alert("Other"), down))

    assert response.status_code == 400
    assert response.json()["field"] == "alerts[2].fingerprint"
    assert not Alert.objects.exists()


# Query bounds


def _existing_alerts(integration: Integration, count: int) -> list[dict[str, object]]:
    """`count` firing alerts, each with its incident, written in bulk (this is setup, not the code under test)."""
    p3 = Severity.objects.get(code="P3")
    now = timezone.now()
    incidents = Incident.objects.bulk_create(
        Incident(title=f"Latency {n}", severity=p3, detected_at=now) for n in range(count)
    )
    bodies = [alert("HighLatency", service=f"svc-{n}", severity="warning") for n in range(count)]
    Alert.objects.bulk_create(
        Alert(integration=integration, fingerprint=body["fingerprint"], status="firing", alertname="HighLatency",
              labels=body["labels"], annotations=body["annotations"], starts_at=STARTS,
              generator_url=body["generatorURL"], incident=incident, first_received_at=now, last_received_at=now)
        for body, incident in zip(bodies, incidents, strict=True)
    )  # fmt: skip
    return bodies


def _queries(client: APIClient, body: dict[str, object]) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = send(client, body)
    assert response.status_code == 200, response.json()
    return len(captured)


def test_updates_resolutions_and_resends_cost_the_same_queries_for_50_or_500_alerts(am):
    small = _existing_alerts(am.integration, 50)
    big, big_client = webhook_client("big")
    large = _existing_alerts(big, 500)

    def mixed(bodies):
        """A third resolved, a third with a new annotation, a third re-sent as they were."""
        return payload(*[
            resolved(body) if n % 3 == 0 else {**body, "annotations": {"summary": "p99 2 s"}} if n % 3 == 1 else body
            for n, body in enumerate(bodies)
        ])  # fmt: skip

    small_queries = _queries(am, mixed(small))
    large_queries = _queries(big_client, mixed(large))

    # Each alert its own incident here: one entry for each, but for the re-sent ones.
    told = [event.data["alerts"] for event in TimelineEvent.objects.filter(kind="alert")]
    assert [len(alerts) for alerts in told] == [1] * sum(1 for n in [*range(50), *range(500)] if n % 3 != 2)
    # SQLite caps parameters per statement, so Django splits the bulk writes into batches of ~80 rows there;
    # PostgreSQL writes each in one statement.
    batches = 0 if connection.vendor == "postgresql" else 12
    assert large_queries <= small_queries + batches, (small_queries, large_queries)
    assert large_queries <= 30


def test_suppressed_alerts_cost_the_same_queries_for_50_or_500(am, django_assert_max_num_queries):
    send(am, payload(alert("NodeNotReady", node="n1", severity="critical")))

    small = _queries(am, payload(*[alert("PodCrashLooping", pod=f"a{n}", node="n1") for n in range(50)]))
    with django_assert_max_num_queries(30):
        large = send(am, payload(*[alert("PodCrashLooping", pod=f"b{n}", node="n1") for n in range(500)])).json()
    large_queries = _queries(am, payload(*[alert("PodCrashLooping", pod=f"c{n}", node="n1") for n in range(500)]))

    assert large["suppressed"] == 500
    assert not Incident.objects.filter(title__startswith="PodCrashLooping").exists()
    batches = 0 if connection.vendor == "postgresql" else 12
    assert large_queries <= small + batches, (small, large_queries)


# Authentication: an integration's bearer token, nothing else


def test_webhook_is_public_to_user_authentication_but_needs_the_integration_token(am, token_client, client):
    body = payload(alert("ServiceDown"))
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer not-the-token")
    user_token = token_client(Role.ADMIN)  # a user's API token is not an integration token
    client.force_login(user_token.user)  # nor is a signed-in session

    for anonymous in (APIClient(), wrong, user_token, client):
        response = anonymous.post(WEBHOOK, json.dumps(body), content_type="application/json")
        assert response.status_code == 401, anonymous
        assert response["WWW-Authenticate"] == "Bearer"
    assert send(am, body).status_code == 200


def test_disabled_integration_is_refused_and_last_use_is_recorded(am):
    assert send(am, payload(alert("A"))).status_code == 200
    assert Integration.objects.get().last_used_at is not None

    integration_set_enabled(integration=am.integration, enabled=False)

    response = send(am, payload(alert("A")))
    assert response.status_code == 401
    assert "disabled" in response.json()["detail"]


# Bad input: 400 naming the field, nothing written


def _without(body: dict[str, object], path: str) -> dict[str, object]:
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    target = body
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    del target[last]
    return body


def _with(body: dict[str, object], path: str, value: object) -> dict[str, object]:
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    target = body
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[last] = value
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_without(REALISTIC_PAYLOAD, "alerts"), "alerts"),
        (_with(REALISTIC_PAYLOAD, "alerts", []), "alerts"),
        (_with(REALISTIC_PAYLOAD, "alerts", "many"), "alerts"),
        (_without(REALISTIC_PAYLOAD, "alerts.1.fingerprint"), "alerts[1].fingerprint"),
        (_with(REALISTIC_PAYLOAD, "alerts.1.fingerprint", ""), "alerts[1].fingerprint"),
        (_without(REALISTIC_PAYLOAD, "alerts.1.labels.alertname"), "alerts[1].labels.alertname"),
        (_with(REALISTIC_PAYLOAD, "alerts.0.labels", "alertname=x"), "alerts[0].labels"),
        (_with(REALISTIC_PAYLOAD, "alerts.0.labels.severity", {"nested": 1}), "alerts[0].labels.severity"),
        (_with(REALISTIC_PAYLOAD, "alerts.1.startsAt", "yesterday"), "alerts[1].startsAt"),
        (_with(REALISTIC_PAYLOAD, "alerts.1.startsAt", "0001-01-01T00:30:00+01:00"), "alerts[1].startsAt"),
        (_with(REALISTIC_PAYLOAD, "alerts.1.status", "pending"), "alerts[1].status"),
        (_with(REALISTIC_PAYLOAD, "alerts.1.status", "resolved"), "alerts[1].endsAt"),  # ends at Go's zero time
        (_with(_with(REALISTIC_PAYLOAD, "alerts.1.status", "resolved"), "alerts.1.endsAt", "2025-06-02T09:00:00Z"),
         "alerts[1].endsAt"),  # before it started
        (_with(REALISTIC_PAYLOAD, "version", "3"), "version"),
        (_without(REALISTIC_PAYLOAD, "version"), "version"),
    ],
    ids=["no-alerts", "empty-alerts", "alerts-not-a-list", "no-fingerprint", "blank-fingerprint", "no-alertname",
         "labels-not-a-dict", "label-not-a-string", "bad-startsAt", "startsAt-before-year-1", "bad-status",
         "resolved-without-endsAt", "ends-before-start", "version-3", "no-version"],
)  # fmt: skip
def test_bad_payloads_answer_400_naming_the_field_and_write_nothing(am, services, body, field):
    response = send(am, body)

    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert response.json()["detail"].startswith(f"{field}: ")
    assert not Alert.objects.exists()
    assert not Incident.objects.exists()


def test_a_body_that_is_not_json_answers_400(am):
    response = am.post(WEBHOOK, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert not Alert.objects.exists()


# Integrations: Admins create (token shown once), list, rotate, disable


def test_admin_creates_an_integration_and_sees_its_token_once(token_client):
    admin = token_client(Role.ADMIN)

    created = admin.post(reverse("api:integration-list"), {"name": "alertmanager-eu"}, format="json")

    assert created.status_code == 201
    token = created.json()["token"]
    integration = Integration.objects.get(name="alertmanager-eu")
    assert integration.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert created.json()["integration"]["token_prefix"] == token[:8]
    listed = admin.get(reverse("api:integration-list")).json()["results"]
    detail = admin.get(reverse("api:integration-detail", args=[integration.pk])).json()
    assert "token" not in listed[0]
    assert set(detail) & {"token", "token_hash"} == set()
    webhook = APIClient()
    webhook.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert webhook.post(WEBHOOK, payload(alert("A")), format="json").status_code == 200
    duplicate = admin.post(reverse("api:integration-list"), {"name": "alertmanager-eu"}, format="json")
    assert (duplicate.status_code, duplicate.json()["field"]) == (400, "name")


def test_rotating_the_token_retires_the_old_one_and_disabling_refuses_it(token_client, am):
    admin = token_client(Role.ADMIN)
    pk = am.integration.pk

    rotated = admin.post(reverse("api:integration-rotate-token", args=[pk]))
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Bearer {rotated.json()['token']}")

    assert rotated.status_code == 200
    assert send(am, payload(alert("A"))).status_code == 401
    assert send(fresh, payload(alert("A"))).status_code == 200
    assert admin.post(reverse("api:integration-disable", args=[pk])).json()["enabled"] is False
    assert send(fresh, payload(alert("A"))).status_code == 401
    assert admin.post(reverse("api:integration-disable", args=[pk])).status_code == 409
    assert admin.post(reverse("api:integration-enable", args=[pk])).status_code == 200
    assert send(fresh, payload(alert("A"))).status_code == 200


@pytest.mark.parametrize("role", [Role.VIEWER, Role.INCIDENT_COMMANDER])
def test_only_admins_manage_integrations(token_client, am, role):
    user = token_client(role)
    pk = am.integration.pk

    assert user.get(reverse("api:integration-list")).status_code == 403
    assert user.post(reverse("api:integration-list"), {"name": "x"}, format="json").status_code == 403
    assert user.post(reverse("api:integration-rotate-token", args=[pk])).status_code == 403
    assert user.post(reverse("api:integration-disable", args=[pk])).status_code == 403


def test_integration_changes_are_audited_without_the_token_hash(token_client):
    admin = token_client(Role.ADMIN)
    pk = admin.post(reverse("api:integration-list"), {"name": "am"}, format="json").json()["integration"]["id"]
    admin.post(reverse("api:integration-rotate-token", args=[pk]))
    admin.post(reverse("api:integration-disable", args=[pk]))

    entries = LogEntry.objects.get_for_model(Integration).filter(object_pk=str(pk)).order_by("pk")

    create, update = LogEntry.Action.CREATE, LogEntry.Action.UPDATE
    assert [entry.action for entry in entries] == [create, update, update]
    assert all(entry.actor == admin.user for entry in entries)
    assert all("token_hash" not in entry.changes_dict for entry in entries)
    assert "token_prefix" in entries[1].changes_dict
    assert entries[2].changes_dict["enabled"] == ["True", "False"]


def test_alerts_are_not_audited(am):
    send(am, payload(alert("A")))
    assert not LogEntry.objects.get_for_model(Alert).exists()


def test_django_admin_shows_a_new_token_once_on_its_own_page(client, make_user):
    staff = make_user(Role.ADMIN, is_staff=True)
    client.force_login(staff)

    response = client.post(reverse("admin:incidents_integration_add"), {"name": "am-admin", "kind": "alertmanager"})

    integration = Integration.objects.get(name="am-admin")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = response.context["issued"][0].token
    assert token in response.content.decode()
    assert integration.created_by == staff
    rotated = client.post(
        reverse("admin:incidents_integration_changelist"),
        {"action": "rotate_token", "_selected_action": [integration.pk]},
    )
    new_token = rotated.context["issued"][0].token
    assert new_token != token
    integration.refresh_from_db()
    assert integration.token_prefix == new_token[:8]
    assert LogEntry.objects.get_for_model(Integration).filter(actor=staff).count() == 2


# Suppression rules: data, editable by Admins, validated


def test_admins_edit_suppression_rules_through_the_api_and_everyone_reads_them(token_client):
    admin, responder = token_client(Role.ADMIN), token_client(Role.RESPONDER)
    rule = {
        "name": "DatabaseDown suppresses SlowQueries",
        "source_matchers": ['alertname="DatabaseDown"'],
        "target_matchers": ['alertname="SlowQueries"'],
        "equal": ["cluster"],
    }

    created = admin.post(reverse("api:suppression-rule-list"), rule, format="json")

    assert created.status_code == 201, created.json()
    assert responder.get(reverse("api:suppression-rule-list")).json()["count"] == 4
    assert responder.post(reverse("api:suppression-rule-list"), rule, format="json").status_code == 403
    entry = LogEntry.objects.get_for_model(SuppressionRule).get(object_pk=str(created.json()["id"]))
    assert entry.actor == admin.user


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"source_matchers": []}, "source_matchers"),
        ({"target_matchers": ['pod=~"("']}, "target_matchers"),
        ({"equal": ["not a label"]}, "equal"),
    ],
)
def test_invalid_rules_are_refused_naming_the_field(token_client, change, field):
    rule = {"name": "r", "source_matchers": ['a="b"'], "target_matchers": ['c="d"'], **change}

    response = token_client(Role.ADMIN).post(reverse("api:suppression-rule-list"), rule, format="json")

    assert (response.status_code, response.json()["field"]) == (400, field)


def test_the_model_validates_rules_for_the_admin_too(db):
    with pytest.raises(ValidationError) as raised:
        SuppressionRule(name="r", source_matchers=["alertname"], target_matchers=['a="b"'], equal=[1]).full_clean()
    assert set(raised.value.message_dict) == {"source_matchers", "equal"}
