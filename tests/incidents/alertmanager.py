"""Alertmanager webhook payloads (version 4) as Alertmanager sends them, for the intake tests."""

import hashlib
from datetime import UTC, datetime, timedelta

from rest_framework.test import APIClient

from incidents.alert_services import integration_create
from incidents.models import Integration

STARTS = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of a firing alert
WEBHOOK = "/api/v1/integrations/alertmanager/"


def rfc3339(moment: datetime) -> str:
    """With nanoseconds, as Go formats them."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def fingerprint(labels: dict[str, str]) -> str:
    """Stable per label set, like Alertmanager's (not the same hash: tests only need it stable and distinct)."""
    return hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]


def alert(
    alertname: str,
    *,
    status: str = "firing",
    starts_at: datetime = STARTS,
    ends_at: datetime | None = None,
    annotations: dict[str, str] | None = None,
    **labels: str,
) -> dict[str, object]:
    labels = {"alertname": alertname, "prometheus": "broxiva-monitoring/k8s", **labels}
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"{alertname} firing"} if annotations is None else annotations,
        "startsAt": rfc3339(starts_at),
        "endsAt": rfc3339(ends_at) if ends_at else GO_ZERO_TIME,
        "generatorURL": f"http://prometheus.broxiva-monitoring:9090/graph?g0.expr={alertname}&g0.tab=1",
        "fingerprint": fingerprint(labels),
    }


def resolved(firing: dict[str, object], *, after: timedelta = timedelta(minutes=12)) -> dict[str, object]:
    ends_at = datetime.fromisoformat(str(firing["startsAt"])[:26] + "+00:00") + after
    return {**firing, "status": "resolved", "endsAt": rfc3339(ends_at)}


def payload(*alerts: dict[str, object], group_by: tuple[str, ...] | None = None) -> dict[str, object]:
    """Alertmanager sends one group per payload. With `group_by` (the route's), the groupKey and groupLabels it sends
    for those labels, which the alerts must share; without, no groupKey, so each alert is a group of its own."""
    labels = [alert["labels"] for alert in alerts]
    common = {key: value for key, value in labels[0].items() if all(other.get(key) == value for other in labels)}
    body: dict[str, object] = {
        "version": "4",
        "truncatedAlerts": 0,
        "status": "firing" if any(alert["status"] == "firing" for alert in alerts) else "resolved",
        "receiver": "broxiva-ops-portal",
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.broxiva-monitoring:9093",
        "alerts": list(alerts),
    }
    if group_by is not None:
        assert all(name in common or all(name not in other for other in labels) for name in group_by), group_by
        group_labels = {name: common[name] for name in group_by if name in common}
        matchers = ", ".join(f'{name}="{value}"' for name, value in group_labels.items())
        body |= {"groupKey": '{}/{severity=~"critical|warning"}:{' + matchers + "}", "groupLabels": group_labels}
    return body


# The shape of Alertmanager's documented webhook payload (version 4) with a group of two alerts; the values are
# made up, in the form Alertmanager writes them (16-hex fingerprints, Go's zero time as a firing alert's endsAt).
REALISTIC_PAYLOAD = {
    "receiver": "broxiva-ops-portal",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "HighErrorRate",
                "namespace": "broxiva-production",
                "prometheus": "broxiva-monitoring/k8s",
                "service": "checkout",
                "severity": "critical",
            },
            "annotations": {
                "description": "checkout answers 7.3% of requests with HTTP 5xx (threshold 5%).",
                "runbook_url": "https://runbooks.broxiva.internal/high-error-rate",
                "summary": "HTTP 5xx above 5% for 5 minutes",
            },
            "startsAt": "2025-06-02T09:30:12.483Z",
            "endsAt": GO_ZERO_TIME,
            "generatorURL": "http://prometheus.broxiva-monitoring:9090/graph?g0.expr=job%3Ahttp_5xx%3Aratio5m+%3E+0.05",
            "fingerprint": "8d4a3f1c2b9e7a60",
        },
        {
            "status": "firing",
            "labels": {
                "alertname": "HighErrorRate",
                "job": "search-api",
                "namespace": "broxiva-production",
                "prometheus": "broxiva-monitoring/k8s",
                "severity": "warning",
            },
            "annotations": {"summary": "HTTP 5xx above 1% for 5 minutes"},
            "startsAt": "2025-06-02T09:31:42.017Z",
            "endsAt": GO_ZERO_TIME,
            "generatorURL": "http://prometheus.broxiva-monitoring:9090/graph?g0.expr=job%3Ahttp_5xx%3Aratio5m+%3E+0.01",
            "fingerprint": "1f0e9d8c7b6a5f4e",
        },
    ],
    "groupLabels": {"alertname": "HighErrorRate"},
    "commonLabels": {
        "alertname": "HighErrorRate",
        "namespace": "broxiva-production",
        "prometheus": "broxiva-monitoring/k8s",
    },
    "commonAnnotations": {},
    "externalURL": "http://alertmanager.broxiva-monitoring:9093",
    "version": "4",
    "groupKey": '{}/{severity=~"critical|warning"}:{alertname="HighErrorRate"}',
    "truncatedAlerts": 0,
}


def webhook_client(name: str = "alertmanager-prod") -> tuple[Integration, APIClient]:
    issued = integration_create(name=name, created_by=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    return issued.integration, client
