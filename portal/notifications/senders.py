"""One sender per channel kind. Each returns an `Outcome` and never raises for a bad recipient or a remote error."""

import smtplib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email.utils import make_msgid
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string
from icalendar import Calendar, vCalAddress

from contacts.models import Team
from portal.notifications import slack
from portal.notifications.models import Channel, Delivery, Notification, PagerAction, Severity, Subscription
from portal.notifications.secrets import scrub
from portal.notifications.status_links import STATUS_KEY_PREFIX, status_page_url, unsubscribe_url
from portal.text import one_line

USER_AGENT = "BroxivaOpsPortal/1.0"
PAGER_SEVERITY = {Severity.CRITICAL: "critical", Severity.WARNING: "warning", Severity.INFO: "info"}
CHAT_COLOUR = {Severity.CRITICAL: "#c62828", Severity.WARNING: "#b35900", Severity.INFO: "#1f4fd1"}


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str = ""
    permanent: bool = False  # retrying cannot help: bad configuration, a recipient without an address, a 4xx
    address: str = ""
    response: str = ""


def failure(error: str, *, permanent: bool = False, address: str = "") -> Outcome:
    return Outcome(ok=False, error=error, permanent=permanent, address=address)


def send(row: Delivery) -> Outcome:
    """Errors and responses, which end up in the delivery log, never quote the channel's secrets."""
    channel = row.channel
    outcome = _send(row)
    team_key = row.team.pagerduty_routing_key if row.team else ""
    secrets = (channel.webhook_url, channel.routing_key, channel.auth_token, team_key)
    return replace(outcome, error=scrub(outcome.error, *secrets), response=scrub(outcome.response, *secrets))


def _send(row: Delivery) -> Outcome:
    if errors := row.channel.configuration_errors():
        return failure(f"Channel {row.channel} is misconfigured: {' '.join(errors.values())}", permanent=True)
    if row.channel.kind == Channel.Kind.CHAT:
        payload = chat_payload(row.notification, row.channel)
        if (app := slack.slack_app()) is not None and app.bot_token:
            ok, said, transient = slack.send_with_bot(app, row, payload)
            return (
                Outcome(ok=True, address=row.address, response=said)
                if ok
                else failure(said, permanent=not transient, address=row.address)
            )
        return _post(row.channel.webhook_url, payload, address=row.address)
    if row.channel.kind == Channel.Kind.PAGER:
        payload = pager_payload(row.notification, row.channel, row.team)
        return _post(row.channel.endpoint_url, payload, address=row.address)
    if row.channel.kind == Channel.Kind.SMS:
        phone = row.user.phone if row.user else row.address
        if not phone:
            return failure(f"{row.user} has no phone number for SMS.", permanent=True)
        headers = {"Authorization": f"Bearer {row.channel.auth_token}"} if row.channel.auth_token else {}
        return _post(row.channel.endpoint_url, sms_payload(row.notification, phone), address=phone, headers=headers)
    return failure(f"Channel kind {row.channel.kind!r} cannot send single messages.", permanent=True)


def _post(url: str, body: dict[str, object], *, address: str, headers: dict[str, str] | None = None) -> Outcome:
    if urlsplit(url).scheme not in {"http", "https"}:
        return failure(f"Not an http(s) URL: {url!r}.", permanent=True, address=address)
    try:
        response = requests.post(
            url,
            json=body,
            timeout=settings.NOTIFICATION_HTTP_TIMEOUT,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
        )
    except requests.RequestException as exc:
        return failure(f"{type(exc).__name__}: {exc}"[:500], address=address)
    if response.ok:
        return Outcome(ok=True, address=address, response=f"{response.status_code} {response.text[:200]}")
    # 408 and 429 ask us to come back; other 4xx say the message itself is wrong.
    transient = response.status_code >= 500 or response.status_code in {408, 429}
    return failure(f"HTTP {response.status_code}: {response.text[:300]}", permanent=not transient, address=address)


def chat_payload(notification: Notification, channel: Channel) -> dict[str, object]:
    """A Slack message (incoming webhook or chat.postMessage): severity, title, link back to the portal; about an
    incident, Block Kit with its state and buttons."""
    mentions = " ".join(user.chat_handle for user in notification.recipients.all() if user.chat_handle)
    headline = f"[{notification.get_severity_display().upper()}] {notification.title}"
    fields = [{"title": "Severity", "value": notification.get_severity_display(), "short": True}]
    if services := ", ".join(service.name for service in notification.services.all()):
        fields.append({"title": "Services", "value": services, "short": True})
    payload: dict[str, object] = {
        "channel": channel.chat_channel,
        "username": "Broxiva Ops Portal",
        "text": f"{headline} {mentions}".strip(),
        "attachments": [
            {
                "color": CHAT_COLOUR[Severity(notification.severity)],
                "title": notification.title,
                "title_link": notification.url or settings.PORTAL_BASE_URL,
                "text": notification.summary,
                "fields": fields,
                "footer": notification.get_event_kind_display(),
            }
        ],
    }
    if (incident := slack.incident_of(notification)) is not None:
        # Block Kit, with the incident's state and buttons; the text and attachment stay as the notification's own.
        payload["blocks"] = slack.incident_blocks(incident, headline=f"{notification.title} {mentions}".strip())
    return payload


def pager_payload(notification: Notification, channel: Channel, team: Team | None = None) -> dict[str, object]:
    """PagerDuty Events API v2: trigger carries the payload; acknowledge and resolve only name the dedup key. A
    delivery to an owner team goes to the team's service (while it has a key), through the channel's endpoint."""
    body: dict[str, object] = {
        "routing_key": (team.pagerduty_routing_key if team else "") or channel.routing_key,
        "event_action": notification.pager_action,
        "dedup_key": notification.dedup_key or f"notification-{notification.pk}",
    }
    if notification.pager_action == PagerAction.TRIGGER:
        body["payload"] = {
            "summary": notification.title[:1024],
            "severity": PAGER_SEVERITY[Severity(notification.severity)],
            "source": notification.source or "broxiva-ops-portal",
            "custom_details": {"summary": notification.summary, "event": notification.event_kind},
        }
        # Events v2 takes a string or no key at all: PagerDuty refuses "component": null.
        if component := ", ".join(service.name for service in notification.services.all()):
            body["payload"]["component"] = component
        body["client"] = "Broxiva Ops Portal"
        if notification.url:
            body["client_url"] = notification.url
            body["links"] = [{"href": notification.url, "text": "Open in the Ops Portal"}]
    return body


def sms_payload(notification: Notification, phone: str) -> dict[str, object]:
    text = f"[{notification.get_severity_display().upper()}] {notification.title}"
    if notification.url:
        text += f" {notification.url}"
    return {"to": phone, "message": text[:320]}


def email_subject(notification: Notification) -> str:
    """One line whatever the title and names hold (input refuses line breaks, but rows may predate that): a CR or LF
    in a header makes Django refuse the whole message."""
    services = ", ".join(service.name for service in notification.services.all())
    prefix = f"[{notification.get_severity_display().upper()}]"
    return one_line(f"{prefix} {services}: {notification.title}" if services else f"{prefix} {notification.title}")


def email_message(row: Delivery, address: str) -> EmailMultiAlternatives:
    notification = row.notification
    context = {
        "notification": notification,
        "services": list(notification.services.all()),
        "base_url": settings.PORTAL_BASE_URL,
    }
    host = urlsplit(settings.PORTAL_BASE_URL).hostname or "localhost"
    template = "notifications/email/notification"
    headers = {
        "List-Id": f"Broxiva Ops Portal <{notification.event_kind.replace('.', '-')}.notifications.{host}>",
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
        "Message-ID": make_msgid(idstring=f"delivery-{row.pk}", domain=host),
    }
    if row.recipient_key.startswith(STATUS_KEY_PREFIX):
        # Someone outside the company, from the status page: the public text, no portal link, a way out (none yet
        # in the confirmation email: there is no subscription to leave).
        template = "notifications/email/status"
        context["status_url"] = status_page_url()
        subscription = Subscription.objects.filter(public=True, email__iexact=address).first()
        if subscription is not None:
            context["unsubscribe_url"] = unsubscribe_url(subscription.pk)
            headers["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
    subject = email_subject(notification)
    if "status_url" in context:  # nor do the routing severity, the incident's reference and its severity code
        subject = one_line(f"[Broxiva status] {notification.public_title}")
    message = EmailMultiAlternatives(
        subject=subject, body=render_to_string(f"{template}.txt", context), to=[address], headers=headers
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    if notification.calendar:
        # Calendar clients read an alternative part with the METHOD parameter (as Google and Outlook send it);
        # mail clients that ignore it still offer the attached invite.ics.
        calendar = Calendar.from_ical(notification.calendar)
        method = str(calendar.get("METHOD", "PUBLISH")).upper()
        invitation = notification.calendar
        if method != "PUBLISH" and calendar.walk("VEVENT"):
            invitation = _with_attendees(calendar, _attendees(row, address, method))
        message.attach_alternative(invitation, f"text/calendar; method={method}")
        message.attach("invite.ics", invitation, "application/ics")
    return message


def _attendees(row: Delivery, address: str, method: str) -> list[str]:
    """RFC 5546: a REQUEST names at least one attendee (mail clients match the recipient by it: this one), a CANCEL of
    the whole event names every attendee (everyone the notification emails)."""
    if method != "CANCEL":
        return [address]
    emails = row.notification.deliveries.filter(channel__kind=Channel.Kind.EMAIL).select_related("user")
    everyone = {(delivery.user.email if delivery.user else delivery.address).lower() for delivery in emails}
    return sorted((everyone | {address.lower()}) - {""})


def _with_attendees(calendar: Calendar, addresses: list[str]) -> str:
    for event in calendar.walk("VEVENT"):
        for address in addresses:
            # A notice, not a meeting: attendees are informed, no reply is expected.
            attendee = vCalAddress(f"mailto:{address}")
            attendee.params.update({"role": "NON-PARTICIPANT", "rsvp": "FALSE", "partstat": "NEEDS-ACTION"})
            event.add("attendee", attendee)
    return calendar.to_ical().decode()


def send_email_batch(rows: list[Delivery]) -> Iterator[tuple[Delivery, Outcome]]:
    """Send each row's email over one SMTP connection, yielding each outcome as soon as it is known (the caller
    records it before the next message goes)."""
    messages: list[tuple[Delivery, EmailMultiAlternatives]] = []
    for row in rows:
        address = row.user.email if row.user else row.address
        if not address:
            yield row, failure(f"{row.user} has no email address.", permanent=True)
        else:
            messages.append((row, email_message(row, address)))
    if not messages:
        return
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except Exception as exc:  # noqa: BLE001 - any SMTP/socket failure means "try again later" for the whole batch
        error = f"Cannot reach the mail server: {type(exc).__name__}: {exc}"[:500]
        for row, message in messages:
            yield row, failure(error, address=message.to[0])
        return
    try:
        for row, message in messages:
            yield row, _send_one(connection, message)
    finally:
        connection.close()


def _send_one(connection: BaseEmailBackend, message: EmailMultiAlternatives) -> Outcome:
    address = message.to[0]
    message.connection = connection
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return failure(f"Recipient refused: {exc.recipients}"[:500], permanent=min(codes) >= 500, address=address)
    except Exception as exc:  # noqa: BLE001 - a dropped connection or a server error fails this message only
        return failure(f"{type(exc).__name__}: {exc}"[:500], address=address)
    return Outcome(ok=True, address=address, response=f"accepted for {address}")
