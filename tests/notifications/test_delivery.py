"""Delivery over real loopback servers: SMTP (aiosmtpd) and HTTP playing Slack, PagerDuty and the SMS gateway."""

import json
import random
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.accounts.roles import Role
from portal.notifications.delivery import backoff, deliver, stranded
from portal.notifications.models import Channel, Delivery, EventKind, PagerAction, Severity
from portal.notifications.services import notify
from tests.notifications.conftest import CHAT_PATH, PAGER_PATH, SMS_PATH
from tests.servers import free_port, http_server


def send_all(notification) -> list:
    return deliver(list(notification.deliveries.values_list("pk", flat=True)))


def bodies(receiver, path: str) -> list[dict]:
    return [json.loads(request.body) for request in receiver.requests if request.path == path]


def test_email_arrives_with_subject_both_bodies_and_headers(live_channels, smtp, make_user, api_service):
    people = [make_user(Role.RESPONDER, email=f"oncall{i}@example.com") for i in range(2)]
    notification = notify(
        event=EventKind.INCIDENT_OPENED, severity=Severity.WARNING, title="Checkout errors at 4%",
        summary="5xx rate above the SLO since 10:02.", url="https://ops.example.com/incidents/7/",
        services=[api_service], recipients=people,
    )  # fmt: skip

    send_all(notification)

    assert smtp.sessions == 1  # the batch shared one SMTP connection
    assert sorted(r[0] for r in smtp.handler.recipients) == ["oncall0@example.com", "oncall1@example.com"]
    message = smtp.messages[0]
    assert message["Subject"] == "[WARNING] API: Checkout errors at 4%"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Id"] == "Broxiva Ops Portal <incident-opened.notifications.127.0.0.1>"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert "Checkout errors at 4%" in body
        assert "5xx rate above the SLO since 10:02." in body
        assert "https://ops.example.com/incidents/7/" in body
    assert "<h1" in html
    assert set(notification.deliveries.values_list("status", flat=True)) == {Delivery.Status.DELIVERED}


def test_a_title_or_service_name_with_line_breaks_still_makes_a_one_line_subject(
    live_channels, smtp, make_user, api_service
):
    """Input refuses line breaks in titles and names, but rows written before that may hold them: the email goes."""
    api_service.name = "API\r\nBcc: everyone@example.com"
    api_service.save()
    person = make_user(Role.RESPONDER, email="oncall@example.com")
    notification = notify(event=EventKind.INCIDENT_OPENED, severity=Severity.WARNING, title="Checkout\r\nerrors\n",
                          services=[api_service], recipients=[person])  # fmt: skip

    send_all(notification)

    assert notification.deliveries.get(channel__kind=Channel.Kind.EMAIL).status == Delivery.Status.DELIVERED
    assert smtp.messages[0]["Subject"] == "[WARNING] API Bcc: everyone@example.com: Checkout errors"
    assert [r[0] for r in smtp.handler.recipients] == ["oncall@example.com"]


def test_a_user_without_email_is_a_failed_row_with_the_reason(live_channels, smtp, make_user):
    person = make_user(Role.RESPONDER, username="noemail", email="")
    notification = notify(event=EventKind.REMINDER, severity=Severity.WARNING, title="x", recipients=[person])

    send_all(notification)

    row = notification.deliveries.get(channel__kind=Channel.Kind.EMAIL)
    assert row.status == Delivery.Status.FAILED
    assert "noemail has no email address" in row.last_error
    assert smtp.messages == []


def test_chat_message_carries_severity_title_link_and_mentions(live_channels, receiver, make_user, api_service):
    person = make_user(Role.RESPONDER, chat_handle="@rami")
    notification = notify(
        event=EventKind.INCIDENT_OPENED, severity=Severity.INFO, title="Cache hit ratio low",
        url="https://ops.example.com/incidents/8/", services=[api_service], recipients=[person],
    )  # fmt: skip

    send_all(notification)

    [body] = bodies(receiver, CHAT_PATH)
    assert body["channel"] == "#info"
    assert body["text"] == "[INFO] Cache hit ratio low @rami"
    [attachment] = body["attachments"]
    assert attachment["title_link"] == "https://ops.example.com/incidents/8/"
    assert {"title": "Services", "value": "API", "short": True} in attachment["fields"]


def test_pagerduty_events_v2_trigger_then_resolve_share_the_dedup_key(live_channels, receiver, api_service):
    notify(
        event=EventKind.INCIDENT_OPENED, severity=Severity.CRITICAL, title="API down", source="incident:42",
        services=[api_service], url="https://ops.example.com/incidents/42/",
    )  # fmt: skip
    resolve = notify(
        event=EventKind.INCIDENT_RESOLVED, severity=Severity.CRITICAL, title="API down", source="incident:42",
        pager_action=PagerAction.RESOLVE,
    )  # fmt: skip

    deliver(list(Delivery.objects.values_list("pk", flat=True)))

    trigger, resolved = bodies(receiver, PAGER_PATH)
    assert trigger["routing_key"] == "R0UT1NGKEY0000000000000000000000"
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == "incident:42"
    assert trigger["payload"]["summary"] == "API down"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "incident:42"
    assert trigger["links"] == [{"href": "https://ops.example.com/incidents/42/", "text": "Open in the Ops Portal"}]
    assert trigger["payload"]["component"] == "API"
    assert resolved == {
        "routing_key": "R0UT1NGKEY0000000000000000000000",
        "event_action": "resolve",
        "dedup_key": "incident:42",
    }
    assert resolve.deliveries.get(channel__kind="pager").status == Delivery.Status.DELIVERED


def test_a_pagerduty_trigger_without_a_service_leaves_component_out(live_channels, receiver):
    # Events v2 refuses "component": null; the key is optional.
    send_all(notify(event=EventKind.INCIDENT_OPENED, severity=Severity.CRITICAL, title="Unknown", source="incident:7"))

    [trigger] = bodies(receiver, PAGER_PATH)
    assert "component" not in trigger["payload"]
    assert trigger["payload"]["summary"] == "Unknown"


def test_sms_goes_to_the_gateway_with_its_token(live_channels, receiver, make_user):
    person = make_user(Role.RESPONDER, phone="+14155550100")
    notify(event=EventKind.INCIDENT_OPENED, severity=Severity.CRITICAL, title="DB failover", recipients=[person])

    deliver(list(Delivery.objects.filter(channel__kind="sms").values_list("pk", flat=True)))

    [request] = [r for r in receiver.requests if r.path == SMS_PATH]
    assert json.loads(request.body) == {"to": "+14155550100", "message": "[CRITICAL] DB failover"}
    assert request.headers["Authorization"] == "Bearer gateway-token"


def test_sms_to_someone_without_a_phone_fails_with_the_reason(live_channels, make_user):
    person = make_user(Role.RESPONDER, username="nophone")
    notify(event=EventKind.INCIDENT_OPENED, severity=Severity.CRITICAL, title="x", recipients=[person])

    deliver(list(Delivery.objects.filter(channel__kind="sms").values_list("pk", flat=True)))

    row = Delivery.objects.get(channel__kind="sms")
    assert row.status == Delivery.Status.FAILED
    assert "nophone has no phone number" in row.last_error


def only_chat(live_channels, url: str) -> Delivery:
    channel = live_channels["Slack #info"]
    channel.webhook_url = url
    channel.save()
    return notify(event=EventKind.TEST, severity=Severity.INFO, title="x").deliveries.get()


@pytest.mark.parametrize("failure", ["http-500", "timeout", "connection-refused"])
def test_transient_failures_are_retried_with_backoff_then_marked_failed(live_channels, settings, failure):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    settings.NOTIFICATION_HTTP_TIMEOUT = 0.3
    routes = {("POST", "/hook"): (500, {"error": "boom"}) if failure == "http-500" else (200, "ok")}
    with http_server(routes, delay=1.0 if failure == "timeout" else 0) as flaky:
        url = f"http://127.0.0.1:{free_port()}/hook" if failure == "connection-refused" else flaky.url + "/hook"
        row = only_chat(live_channels, url)

        first = deliver([row.pk])
        row.refresh_from_db()
        assert (row.status, row.attempts) == (Delivery.Status.QUEUED, 1)
        assert [retry.delivery_id for retry in first] == [row.pk]
        assert row.next_attempt_at == first[0].at

        for _ in range(2):
            Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
            deliver([row.pk])
        row.refresh_from_db()

    assert (row.status, row.attempts) == (Delivery.Status.FAILED, 3)
    assert row.last_error.startswith("Attempt 3:")


def test_the_delivery_log_never_quotes_the_webhook_url(live_channels):
    secret_path = "/services/T0SECRET/B0SECRET/webhookSECRETtoken123"
    row = only_chat(live_channels, f"http://127.0.0.1:{free_port()}{secret_path}")  # connection refused

    deliver([row.pk])

    row.refresh_from_db()
    assert "Max retries exceeded" in row.last_error
    assert "webhookSECRET" not in row.last_error
    assert "…n123" in row.last_error


def test_a_4xx_is_not_retried(live_channels):
    with http_server({("POST", "/hook"): (400, {"error": "invalid_payload"})}) as strict:
        row = only_chat(live_channels, strict.url + "/hook")
        assert deliver([row.pk]) == []
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Delivery.Status.FAILED, 1)
    assert "HTTP 400" in row.last_error


def test_a_channel_broken_after_the_fact_fails_the_row_not_the_worker(live_channels):
    row = only_chat(live_channels, "ftp://not-a-webhook.example.com")
    deliver([row.pk])
    row.refresh_from_db()
    assert row.status == Delivery.Status.FAILED
    assert "Not an http(s) URL" in row.last_error


def test_a_delivered_row_is_never_sent_twice(live_channels, receiver):
    row = notify(event=EventKind.TEST, severity=Severity.INFO, title="x").deliveries.get()
    deliver([row.pk])
    deliver([row.pk])  # a redelivered task message
    assert len(bodies(receiver, CHAT_PATH)) == 1


def test_a_row_not_yet_due_is_left_alone(live_channels, receiver):
    row = notify(event=EventKind.TEST, severity=Severity.INFO, title="x").deliveries.get()
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert deliver([row.pk]) == []
    assert bodies(receiver, CHAT_PATH) == []


def test_sweeper_finds_rows_the_broker_lost(live_channels, settings):
    queued = notify(event=EventKind.TEST, severity=Severity.INFO, title="lost").deliveries.get()
    sending = notify(event=EventKind.TEST, severity=Severity.INFO, title="worker died").deliveries.get()
    fresh = notify(event=EventKind.TEST, severity=Severity.INFO, title="just enqueued").deliveries.get()
    now = timezone.now()
    Delivery.objects.filter(pk=queued.pk).update(next_attempt_at=now - timedelta(minutes=5))
    Delivery.objects.filter(pk=sending.pk).update(status=Delivery.Status.SENDING, attempts=1)
    Delivery.objects.filter(pk=sending.pk).update(updated_at=now - timedelta(minutes=30))

    found = stranded(now=now)

    assert {row.pk for row in found} == {queued.pk, sending.pk}
    assert fresh.pk not in {row.pk for row in found}
    sending.refresh_from_db()
    assert sending.status == Delivery.Status.QUEUED
    assert "no outcome recorded" in sending.last_error


def test_backoff_grows_exponentially_with_jitter_and_a_cap(settings):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 30
    rng = random.Random(7)
    delays = [backoff(attempt, rng=rng).total_seconds() for attempt in range(1, 12)]
    for attempt, delay in enumerate(delays, start=1):
        step = min(30 * 2 ** (attempt - 1), settings.NOTIFICATION_RETRY_MAX_SECONDS)
        assert step / 2 <= delay <= step
    assert len({round(d, 3) for d in delays[-3:]}) == 3  # capped, yet not in lockstep


def test_a_calendar_goes_with_the_email_as_an_invitation(live_channels, smtp, make_user):
    person = make_user(Role.RESPONDER, email="cal@example.com")
    calendar = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//\r\nMETHOD:CANCEL\r\nEND:VCALENDAR\r\n"
    with_invite = notify(
        event=EventKind.MAINTENANCE_CANCELLED,
        severity=Severity.WARNING,
        title="Off",
        recipients=[person],
        calendar=calendar,
    )
    plain = notify(event=EventKind.TEST, severity=Severity.WARNING, title="No invite", recipients=[person])

    send_all(with_invite)
    send_all(plain)

    invited, uninvited = smtp.messages
    [part] = [p for p in invited.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "CANCEL"
    assert part.get_content() == calendar
    assert [a.get_filename() for a in invited.iter_attachments()] == ["invite.ics"]
    assert invited.get_body(("plain",)) is not None
    assert invited.get_body(("html",)) is not None
    assert not [p for p in uninvited.walk() if p.get_content_type() == "text/calendar"]
