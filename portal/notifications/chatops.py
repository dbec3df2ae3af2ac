"""Working from chat: Slack's `/incident` and `/oncall` commands and buttons, and PagerDuty's acknowledgements.

Every action goes through the same services and role checks as the UI, recorded in the audit log as the person
who asked (`acting_as`). Answers are Slack messages: ephemeral (only the asker sees them) unless they are news.
"""

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, Severity, StatusUpdate, TimelineEvent
from incidents.services import (
    incident_acknowledge,
    incident_declare,
    incident_post_update,
    incident_resolved_elsewhere,
    incident_url,
    timeline_add,
)
from oncall.selectors import oncall_now
from portal.accounts.models import User
from portal.accounts.roles import Role, has_role
from portal.core.audit import acting_as
from portal.errors import ApplicationError
from portal.locking import lock_row
from portal.notifications.models import InboundEvent, PagerDutyWebhook
from portal.notifications.slack import (
    USER_AGENT,
    SlackApiError,
    SlackUser,
    link_your_account,
    portal_user,
    portal_user_by_email,
    slack_app,
)

logger = logging.getLogger(__name__)

USAGE = (
    "Usage: `/incident declare <title> [P1-P4]`, `/incident ack [INC-n]`, `/incident status [INC-n] <text>`; "
    "`/oncall` tells who is on call now."
)
REFERENCE = re.compile(r"^INC-(\d+)$", re.IGNORECASE)
SEVERITY_CODE = re.compile(r"^P[1-4]$", re.IGNORECASE)
Status = Incident.Status
# The status-update label that fits where the incident stands.
LABEL_FOR_STATUS = {
    Status.TRIAGE: StatusUpdate.Label.INVESTIGATING,
    Status.INVESTIGATING: StatusUpdate.Label.INVESTIGATING,
    Status.IDENTIFIED: StatusUpdate.Label.IDENTIFIED,
    Status.MITIGATING: StatusUpdate.Label.IDENTIFIED,
    Status.MONITORING: StatusUpdate.Label.MONITORING,
}


@dataclass(frozen=True)
class Reply:
    text: str
    public: bool = False  # news for the channel, not only for the asker

    def as_slack(self) -> dict[str, Any]:
        return {"response_type": "in_channel" if self.public else "ephemeral", "text": self.text}


def command_run(*, command: str, text: str, user: User, now: datetime | None = None) -> Reply:
    """Carry out a slash command as `user`; refusals (roles, rules, bad input) come back as ephemeral replies."""
    now = now or timezone.now()
    try:
        with acting_as(user.pk):
            if command.lstrip("/") == "oncall":
                return _oncall(now)
            verb, _, rest = text.strip().partition(" ")
            verb = verb.lower()
            if verb == "declare":
                return _declare(rest.strip(), user=user, now=now)
            if verb in {"ack", "acknowledge"}:
                return _ack(_incident(rest.strip()), user=user, now=now)
            if verb == "status":
                reference, _, description = rest.strip().partition(" ")
                if REFERENCE.match(reference):
                    return _status(_incident(reference), description, user=user, now=now)
                return _status(_incident(""), rest, user=user, now=now)
            return Reply(USAGE)
    except ApplicationError as exc:
        return Reply(f"Not done: {exc.message}")


def button_press(*, action_id: str, value: str, user: User, now: datetime | None = None) -> Reply | None:
    """A button on an incident message; link buttons (Open in portal, Post update) need nothing from us."""
    if action_id != "incident_ack":
        return None
    try:
        with acting_as(user.pk):
            return _ack(_incident(f"INC-{value}"), user=user, now=now or timezone.now())
    except ApplicationError as exc:
        return Reply(f"Not done: {exc.message}")


def _require(user: User, role: Role) -> None:
    if not has_role(user, role):
        raise ApplicationError(f"This needs the {role.label} role, which {user} does not have.", field="user")


def _incident(reference: str) -> Incident:
    """The incident named `INC-n`; without a name, the only open one."""
    if reference:
        match = REFERENCE.match(reference)
        incident = Incident.objects.filter(pk=int(match.group(1))).first() if match else None
        if incident is None:
            raise ApplicationError(f"No incident {reference}.", field="incident")
        return incident
    open_incidents = list(Incident.objects.exclude(status__in=[Status.RESOLVED, Status.REVIEW, Status.CLOSED])[:2])
    if len(open_incidents) != 1:
        raise ApplicationError(
            "Name the incident (INC-n): " + ("none is open." if not open_incidents else "several are open."),
            field="incident",
        )
    return open_incidents[0]


def _declare(rest: str, *, user: User, now: datetime) -> Reply:
    _require(user, Role.RESPONDER)
    words = rest.split()
    code = words.pop().upper() if words and SEVERITY_CODE.match(words[-1]) else "P3"
    title = " ".join(words)
    if not title:
        raise ApplicationError("Give the incident a title: `/incident declare <title> [P1-P4]`.", field="title")
    incident = incident_declare(title=title, severity=Severity.objects.get(code=code), reporter=user, now=now)
    return Reply(f"{user} declared {incident.reference} [{code}] {incident.title}: {incident_url(incident)}", True)


def _ack(incident: Incident, *, user: User, now: datetime) -> Reply:
    _require(user, Role.RESPONDER)
    incident = incident_acknowledge(incident=incident, actor=user, now=now)
    return Reply(f"{user} acknowledged {incident.reference}: {incident.title}", public=True)


def _status(incident: Incident, description: str, *, user: User, now: datetime) -> Reply:
    _require(user, Role.RESPONDER)
    label = LABEL_FOR_STATUS.get(Status(incident.status), StatusUpdate.Label.RESOLVED)
    update = incident_post_update(incident=incident, label=label, description=description, actor=user, now=now)
    return Reply(f"{incident.reference} [{update.get_label_display()}] {update.description} ({user})", public=True)


def _oncall(now: datetime) -> Reply:
    lines = []
    for oncall in oncall_now(at=now):
        primary = oncall.primary.person if oncall.primary else None
        secondary = oncall.secondary.person if oncall.secondary else None
        lines.append(f"{oncall.rotation}: primary {_who(primary)}, secondary {_who(secondary)}")
    return Reply("\n".join(lines) or "No rotation is in service.")


def _who(user: User | None) -> str:
    if user is None:
        return "nobody"
    return f"{user.get_full_name() or user.get_username()}" + (f" ({user.chat_handle})" if user.chat_handle else "")


# PagerDuty


@dataclass(frozen=True)
class PagerDutyEvent:
    id: str
    type: str
    incident_key: str
    agent_id: str
    agent_name: str


def pagerduty_event_parse(payload: dict[str, Any]) -> PagerDutyEvent:
    """The parts of a V3 webhook the portal uses; `event.data` is PagerDuty's incident."""
    event = payload.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event["id"]:
        raise ApplicationError("A V3 webhook carries an event with an id.", field="event")
    data, agent = (value if isinstance(value := event.get(key), dict) else {} for key in ("data", "agent"))
    return PagerDutyEvent(
        id=event["id"][:200],
        type=str(event.get("event_type", ""))[:100],
        incident_key=str(data.get("incident_key") or data.get("dedup_key") or ""),
        agent_id=str(agent.get("id") or ""),
        agent_name=str(agent.get("summary") or "someone"),
    )


def pagerduty_event_record(*, payload: dict[str, Any], now: datetime | None = None) -> tuple[InboundEvent, bool]:
    """Keep the event by its id; `created` is False for a replay, which is then left alone."""
    event = pagerduty_event_parse(payload)
    with transaction.atomic():
        return InboundEvent.objects.get_or_create(
            source="pagerduty",
            event_id=event.id,
            defaults={"event_type": event.type, "payload": payload, "received_at": now or timezone.now()},
        )


def portal_incident(incident_key: str) -> Incident | None:
    """The incident behind the dedup key the portal sent with its pages (`incident:<id>`)."""
    match = re.fullmatch(r"incident:(\d+)", incident_key)
    return Incident.objects.filter(pk=int(match.group(1))).first() if match else None


def pagerduty_event_apply(*, record: InboundEvent, agent: User | None, now: datetime | None = None) -> str:
    """Act on a recorded PagerDuty event as `agent` (matched by email; None: nobody in the portal): an acknowledgement
    acknowledges the incident (timers and further pages stop); a resolve moves it to monitoring, where the commander
    confirms. Returns what was done, kept on the event row."""
    now = now or timezone.now()
    event = pagerduty_event_parse(record.payload)
    incident = portal_incident(event.incident_key)
    if incident is None:
        return f"ignored: no portal incident for key {event.incident_key!r}"
    via = f"in PagerDuty by {event.agent_name}"
    with acting_as(agent.pk if agent else None):
        if event.type == "incident.acknowledged":
            if incident.acknowledged_at is not None:
                return f"ignored: {incident.reference} was already acknowledged"
            incident_acknowledge(incident=incident, actor=agent, via=via, now=now)
            return f"acknowledged {incident.reference}"
        if event.type == "incident.resolved":
            incident_resolved_elsewhere(incident=incident, actor=agent, via=via, now=now)
            return f"{incident.reference} resolved in PagerDuty"
        if event.type == "incident.reassigned":
            note = TimelineEvent.Kind.NOTE
            timeline_add(incident=incident, kind=note, message=f"Reassigned {via}", actor=agent, at=now)
            return f"noted the reassignment on {incident.reference}"
    return f"ignored: {event.type or 'no event type'}"


def pagerduty_agent(webhook: PagerDutyWebhook, agent_id: str) -> User | None:
    """The portal user behind a PagerDuty user, by email, read from PagerDuty's REST API with the subscription's key;
    None when there is no key, PagerDuty cannot say, or no active portal user has that email."""
    if not (webhook.api_token and agent_id):
        return None
    try:
        response = requests.get(
            f"{webhook.api_url.rstrip('/')}/users/{quote(agent_id, safe='')}",
            headers={
                "Authorization": f"Token token={webhook.api_token}",
                "Accept": "application/vnd.pagerduty+json;version=2",
                "User-Agent": USER_AGENT,
            },
            timeout=settings.NOTIFICATION_HTTP_TIMEOUT,
        )
        response.raise_for_status()
        email = response.json().get("user", {}).get("email", "")
    except (requests.RequestException, ValueError, AttributeError) as exc:
        logger.warning("PagerDuty user %s not looked up: %s", agent_id, type(exc).__name__)
        return None
    if not isinstance(email, str) or not email:
        return None
    return User.objects.filter(is_active=True, email__iexact=email).order_by("pk").first()


def pagerduty_event_process(*, event_id: int, webhook_id: int, now: datetime | None = None) -> str:
    """Look up who acted (a network call, outside any transaction), then apply the event once under its row lock."""
    record = InboundEvent.objects.get(pk=event_id)
    if record.status != InboundEvent.Status.RECEIVED:
        return record.result
    webhook = PagerDutyWebhook.objects.filter(pk=webhook_id).first()
    agent = pagerduty_agent(webhook, pagerduty_event_parse(record.payload).agent_id) if webhook else None
    with transaction.atomic():
        record = lock_row(InboundEvent.objects.all(), event_id)
        if record.status != InboundEvent.Status.RECEIVED:
            return record.result
        try:
            with transaction.atomic():
                result = pagerduty_event_apply(record=record, agent=agent, now=now)
        except ApplicationError as exc:
            record.status, result = InboundEvent.Status.FAILED, f"failed: {exc.message}"
        else:
            done = not result.startswith("ignored")
            record.status = InboundEvent.Status.DONE if done else InboundEvent.Status.IGNORED
        record.result = result[:500]
        record.save(update_fields=["status", "result"])
    return record.result


# Slack


def slack_reply(*, kind: str, payload: dict[str, Any], user: User, now: datetime | None = None) -> Reply | None:
    """A command (`kind` "command": the form Slack posts) or a button ("button": the action's id and value)."""
    if kind == "command":
        return command_run(command=payload.get("command", ""), text=payload.get("text", ""), user=user, now=now)
    return button_press(action_id=payload.get("action_id", ""), value=payload.get("value", ""), user=user, now=now)


def slack_deferred_run(*, kind: str, payload: dict[str, str]) -> Reply:
    """For a Slack user not linked yet: find them by the email Slack has for them, then act."""
    app = slack_app()
    slack_user = SlackUser(id=payload.get("user_id", ""), name=payload.get("user_name", ""))
    try:
        user = portal_user(slack_user) or (portal_user_by_email(app, slack_user) if app and app.bot_token else None)
    except SlackApiError as exc:
        return Reply(f"Could not ask Slack who you are ({exc}); try again in a moment.")
    if user is None:
        return Reply(link_your_account(slack_user))
    return slack_reply(kind=kind, payload=payload, user=user) or Reply("Done.")
