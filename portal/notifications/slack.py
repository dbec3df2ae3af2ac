"""Slack's side of the portal: the app's settings, its Web API, and who a Slack user is in the portal."""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.urls import reverse

from incidents.models import Incident
from portal.accounts.models import User
from portal.notifications.models import ChatThread, Delivery, Notification, SlackApp

USER_AGENT = "BroxivaOpsPortal/1.0"


class SlackApiError(Exception):
    """Slack answered `ok: false` or could not be reached; `transient` when trying again may help."""

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


def slack_app() -> SlackApp | None:
    return SlackApp.objects.filter(enabled=True).order_by("pk").first()


def api_call(app: SlackApp, method: str, body: dict[str, Any]) -> dict[str, Any]:
    """One Web API call (`chat.postMessage`, `users.info`, ...) with the bot token."""
    try:
        response = requests.post(
            urljoin(app.api_url.rstrip("/") + "/", method),
            json=body,
            headers={"Authorization": f"Bearer {app.bot_token}", "User-Agent": USER_AGENT},
            timeout=settings.NOTIFICATION_HTTP_TIMEOUT,
        )
        answer = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise SlackApiError(f"{method}: {type(exc).__name__}: {exc}"[:300]) from exc
    if not isinstance(answer, dict) or not answer.get("ok"):
        error = str(answer.get("error", "unknown error")) if isinstance(answer, dict) else "not JSON"
        transient = error in TRANSIENT_ERRORS or response.status_code >= 500
        raise SlackApiError(f"{method}: HTTP {response.status_code}, {error}"[:300], transient=transient)
    return answer


def respond(response_url: str, body: dict[str, Any]) -> None:
    """A delayed answer to a command or a button through its `response_url` (valid 30 minutes, 5 times)."""
    try:
        response = requests.post(
            response_url, json=body, headers={"User-Agent": USER_AGENT}, timeout=settings.NOTIFICATION_HTTP_TIMEOUT
        )
        response.raise_for_status()
    except requests.RequestException as exc:
        raise SlackApiError(f"response_url: {type(exc).__name__}: {exc}"[:300]) from exc


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str  # the handle, without its @


def portal_user(slack_user: SlackUser) -> User | None:
    """The active portal user Slack knows as `slack_user`: by the Slack id learnt before, else by chat handle."""
    users = User.objects.filter(is_active=True)
    if slack_user.id and (user := users.filter(slack_user_id=slack_user.id).first()):
        return user
    if slack_user.name and (user := users.filter(chat_handle__iexact=f"@{slack_user.name}").first()):
        return _learn(user, slack_user)
    return None


def portal_user_by_email(app: SlackApp, slack_user: SlackUser) -> User | None:
    """Ask Slack for the user's email (`users.info`, scope users:read.email) and find the portal user with it."""
    profile = api_call(app, "users.info", {"user": slack_user.id}).get("user", {}).get("profile", {})
    email = profile.get("email", "") if isinstance(profile, dict) else ""
    if not email:
        return None
    user = User.objects.filter(is_active=True, email__iexact=email).order_by("pk").first()
    return _learn(user, slack_user) if user else None


def _learn(user: User, slack_user: SlackUser) -> User:
    if slack_user.id and user.slack_user_id != slack_user.id:
        user.slack_user_id = slack_user.id
        user.save(update_fields=["slack_user_id"])
    return user


def link_your_account(slack_user: SlackUser) -> str:
    return (
        f"Your Slack account is not linked to the Ops Portal. Set your chat handle to @{slack_user.name} (or use "
        f"the same email in both) on your profile at {settings.PORTAL_BASE_URL}, then try again."
    )


# Block Kit

INCIDENT_SOURCE = re.compile(r"^incident:(\d+)")
# Slack Web API errors worth retrying; any other `ok: false` says the message or the configuration is wrong.
TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


def escape(text: str) -> str:
    """mrkdwn's three control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def incident_of(notification: Notification) -> Incident | None:
    match = INCIDENT_SOURCE.match(notification.source)
    if match is None:
        return None
    return Incident.objects.select_related("severity", "commander").filter(pk=int(match.group(1))).first()


def _at(moment: datetime | None) -> str:
    # Slack shows <!date^...> in the reader's own time zone; the fallback text is UTC.
    if moment is None:
        return "—"
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{moment:%Y-%m-%d %H:%M} UTC>"


def incident_blocks(incident: Incident, *, headline: str) -> list[dict[str, Any]]:
    """The incident as it stands: severity, status, commander, timers, and what responders can do from chat."""
    url = settings.PORTAL_BASE_URL + reverse("incident-detail", args=[incident.pk])
    commander = incident.commander
    who = (commander.chat_handle or commander.get_full_name() or commander.get_username()) if commander else ""
    # mrkdwn: names escaped, the timers are Slack date tokens.
    fields = [
        ("Severity", escape(f"{incident.severity.code} {incident.severity.name}")),
        ("Status", escape(incident.get_status_display())),
        ("Commander", escape(who) or "nobody yet"),
    ]
    if incident.acknowledged_at is None:
        fields.append(("Acknowledge by", _at(incident.ack_due_at)))
    if incident.is_open:
        fields += [("Next update due", _at(incident.update_due_at)), ("Resolve by", _at(incident.resolution_due_at))]
    buttons: list[dict[str, Any]] = []
    if incident.acknowledged_at is None and incident.is_open:
        buttons.append(_button("incident_ack", "Acknowledge", value=str(incident.pk), style="primary"))
    buttons += [
        _button("incident_update", "Post update", url=f"{url}#status-update"),
        _button("incident_open", "Open in portal", url=url),
    ]
    title = f"{incident.reference} [{incident.severity.code}] {incident.title}"
    return [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in fields]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(headline)[:3000]}]},
        {"type": "actions", "elements": buttons},
    ]


def _button(action_id: str, text: str, *, value: str = "", url: str = "", style: str = "") -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": text}}
    button |= {key: item for key, item in (("value", value), ("url", url), ("style", style)) if item}
    return button


def send_with_bot(app: SlackApp, row: Delivery, payload: dict[str, Any]) -> tuple[bool, str, bool]:
    """Post through the Web API: about an incident, its root message in the channel is edited to the incident's
    current state and the news goes in its thread; anything else is a message of its own.
    Returns (ok, what happened or the error, whether retrying may help)."""
    notification, channel = row.notification, row.channel
    incident = incident_of(notification)
    try:
        if incident is None:
            answer = api_call(app, "chat.postMessage", payload)
            return True, f"posted ts={answer.get('ts', '')}", False
        root = {**payload, "blocks": incident_blocks(incident, headline=notification.title)}
        thread = ChatThread.objects.filter(source=f"incident:{incident.pk}", channel=channel).first()
        if thread is None:
            answer = api_call(app, "chat.postMessage", root)
            ChatThread.objects.get_or_create(
                source=f"incident:{incident.pk}", channel=channel,
                defaults={"slack_channel": answer.get("channel", ""), "ts": answer.get("ts", "")},
            )  # fmt: skip
            return True, f"root message ts={answer.get('ts', '')}", False
        api_call(app, "chat.update", {**root, "channel": thread.slack_channel, "ts": thread.ts})
        news = f"*{escape(notification.title)}*" + (f"\n{escape(notification.summary)}" if notification.summary else "")
        answer = api_call(app, "chat.postMessage", {"channel": thread.slack_channel, "thread_ts": thread.ts,
                                                    "text": news[:3000]})  # fmt: skip
        return True, f"root ts={thread.ts} updated, reply ts={answer.get('ts', '')}", False
    except SlackApiError as exc:
        return False, str(exc), exc.transient
