"""PagerDuty both ways: the portal pages with a dedup key, PagerDuty's V3 webhooks acknowledge and resolve back."""

import json

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from rest_framework.test import APIClient

from incidents.models import EscalationStep, Incident, Severity
from incidents.services import incident_declare
from portal.accounts.roles import Role
from portal.notifications.chatops import pagerduty_event_process
from portal.notifications.models import Channel, InboundEvent, Notification, PagerDutyWebhook
from portal.notifications.senders import pager_payload
from portal.notifications.signatures import pagerduty_signature
from tests.servers import http_server

URL = reverse("api:pagerduty-webhook")
PD_USER = {"user": {"id": "PXPGF42", "name": "Jane Doe", "email": "Jane@Example.com"}}


@pytest.fixture
def pagerduty(db):
    """PagerDuty's REST API on loopback (users/PXPGF42 is Jane) and a webhook subscription using it."""
    with http_server({("GET", "/users/PXPGF42"): (200, PD_USER)}) as api:
        webhook = PagerDutyWebhook.objects.create(name="pd", secret="whsec-1", api_token="u+rest-key", api_url=api.url)
        webhook.api = api
        yield webhook


@pytest.fixture
def jane(make_user):
    return make_user(Role.RESPONDER, username="jane", email="jane@example.com")


@pytest.fixture
def incident(db) -> Incident:
    return incident_declare(title="Payments failing", severity=Severity.objects.get(code="P1"), reporter=None)


def event(incident: Incident, event_type: str = "incident.acknowledged", *, event_id: str = "01DEN2QO9ZZQW") -> dict:
    """A V3 webhook as PagerDuty sends it; `incident_key` is the dedup key the portal's page carried."""
    paged = Notification.objects.filter(source=f"incident:{incident.pk}").first()
    key = pager_payload(paged, Channel.objects.get(name="PagerDuty"))["dedup_key"]
    return {
        "event": {
            "id": event_id,
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-11-24T10:03:00.000Z",
            "agent": {"id": "PXPGF42", "type": "user_reference", "summary": "Jane Doe"},
            "data": {"id": "Q1PD", "type": "incident", "incident_key": key, "status": "acknowledged"},
        }
    }


def send(body: dict, *, secrets: tuple[str, ...] = ("whsec-1",), header: str | None = None):
    raw = json.dumps(body).encode()
    signature = ",".join(pagerduty_signature(secret=secret, body=raw) for secret in secrets)
    headers = {} if header == "" else {"HTTP_X_PAGERDUTY_SIGNATURE": header or signature}
    return APIClient().generic("POST", URL, raw, content_type="application/json", **headers)


def process_received() -> list[str]:
    """What the worker does with each event the endpoint enqueued."""
    webhook = PagerDutyWebhook.objects.get()
    return [
        pagerduty_event_process(event_id=record.pk, webhook_id=webhook.pk)
        for record in InboundEvent.objects.filter(status=InboundEvent.Status.RECEIVED)
    ]


def test_the_portal_pages_with_the_key_pagerduty_sends_back(incident):
    assert event(incident)["event"]["data"]["incident_key"] == f"incident:{incident.pk}"


def test_an_acknowledgement_acknowledges_as_the_pagerduty_user(
    pagerduty, jane, incident, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = send(event(incident))
    assert response.status_code == 200
    assert response.json() == {"event": "01DEN2QO9ZZQW", "duplicate": False}
    assert len(callbacks) == 1  # the worker's task, on commit

    assert process_received() == [f"acknowledged {incident.reference}"]

    incident.refresh_from_db()
    assert incident.acknowledged_at is not None
    assert incident.commander == jane
    ack = incident.timeline.get(kind="acknowledged")
    assert (ack.actor, ack.message) == (jane, "Acknowledged in PagerDuty by Jane Doe")
    # The secondary is not paged any more.
    assert not incident.escalation_steps.filter(kind=EscalationStep.Kind.SECONDARY, cancelled_at__isnull=True).exists()
    assert pagerduty.api.requests[0].headers["Authorization"] == "Token token=u+rest-key"
    told = f"{incident.reference} [P1] acknowledged in PagerDuty by Jane Doe"
    assert Notification.objects.filter(title=told).exists()
    changed = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Incident), object_id=incident.pk)
    assert changed.filter(actor=jane).exists()


def test_a_replay_does_nothing_more(pagerduty, jane, incident, django_capture_on_commit_callbacks):
    send(event(incident))
    process_received()
    with django_capture_on_commit_callbacks() as callbacks:
        again = send(event(incident))
    assert again.json() == {"event": "01DEN2QO9ZZQW", "duplicate": True}
    assert callbacks == []
    assert process_received() == []
    assert incident.timeline.filter(kind="acknowledged").count() == 1
    # A redelivered task message finds the event done.
    record = InboundEvent.objects.get()
    assert pagerduty_event_process(event_id=record.pk, webhook_id=pagerduty.pk) == record.result


def test_an_unknown_pagerduty_user_still_stops_the_pages(pagerduty, incident):
    send(event(incident))
    process_received()
    incident.refresh_from_db()
    assert incident.acknowledged_at is not None
    assert incident.commander is None
    assert incident.timeline.get(kind="acknowledged").message == "Acknowledged in PagerDuty by Jane Doe"


def test_a_resolve_in_pagerduty_moves_to_monitoring_not_closed(pagerduty, jane, incident):
    send(event(incident, "incident.resolved", event_id="E2"))
    assert process_received() == [f"{incident.reference} resolved in PagerDuty"]
    incident.refresh_from_db()
    assert incident.status == Incident.Status.MONITORING
    assert incident.resolved_at is None
    note = incident.timeline.get(kind="transition")
    assert note.message.startswith("Resolved in PagerDuty by Jane Doe; Detection & triage → Monitoring")
    assert note.actor == jane


def test_a_reassignment_is_noted(pagerduty, jane, incident):
    send(event(incident, "incident.reassigned", event_id="E3"))
    process_received()
    assert incident.timeline.filter(kind="note", message="Reassigned in PagerDuty by Jane Doe").exists()


def test_events_about_other_incidents_are_kept_and_ignored(pagerduty, incident):
    body = event(incident)
    body["event"]["data"]["incident_key"] = "someone-elses-key"
    send(body)
    assert process_received() == ["ignored: no portal incident for key 'someone-elses-key'"]
    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED


def test_several_signatures_during_a_rotation(pagerduty, incident):
    pagerduty.secret = "whsec-2"
    pagerduty.save()
    assert send(event(incident), secrets=("whsec-1", "whsec-2")).status_code == 200


@pytest.mark.parametrize(
    ("secrets", "header"),
    [(("wrong",), None), ((), ""), ((), "v1=deadbeef"), ((), "v0=" + "0" * 64)],
    ids=["wrong secret", "missing header", "garbage", "other scheme"],
)
def test_badly_signed_events_are_401_and_do_nothing(pagerduty, incident, secrets, header):
    response = send(event(incident), secrets=secrets, header=header)
    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def test_a_disabled_subscription_is_refused(pagerduty, incident):
    pagerduty.enabled = False
    pagerduty.save()
    assert send(event(incident)).status_code == 401


def test_a_signed_body_without_an_event_is_a_400(pagerduty):
    response = send({"messages": []})
    assert response.status_code == 400
    assert response.json()["field"] == "event"
