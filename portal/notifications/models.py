from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from portal.core.fields import EncryptedCharField, EncryptedURLField
from portal.notifications.status_links import STATUS_KEY_PREFIX


class Severity(models.TextChoices):
    """Alert-routing severities from the seeds: critical pages, warning chats and mails, info chats."""

    CRITICAL = "critical", "Critical"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


class EventKind(models.TextChoices):
    INCIDENT_OPENED = "incident.opened", "Incident opened"
    INCIDENT_UPDATED = "incident.updated", "Incident updated"
    INCIDENT_RESOLVED = "incident.resolved", "Incident resolved"
    INCIDENT_ESCALATED = "incident.escalated", "Incident escalated"
    INCIDENT_STATUS_UPDATE = "incident.status_update", "Incident status update"
    INCIDENT_SEVERITY_CHANGED = "incident.severity_changed", "Incident severity changed"
    INCIDENT_SECURITY_FLAG = "incident.security_flag", "Incident flagged: data breach or active attack"
    ALERT_RECEIVED = "alert.received", "Alerts received"
    MAINTENANCE_SCHEDULED = "maintenance.scheduled", "Maintenance scheduled"
    MAINTENANCE_RESCHEDULED = "maintenance.rescheduled", "Maintenance rescheduled"
    MAINTENANCE_CANCELLED = "maintenance.cancelled", "Maintenance cancelled"
    MAINTENANCE_STARTED = "maintenance.started", "Maintenance started"
    MAINTENANCE_COMPLETED = "maintenance.completed", "Maintenance completed"
    SLO_BURN = "slo.burn", "SLO burning its error budget"
    SLO_BURN_ENDED = "slo.burn_ended", "SLO burn ended"
    APPROVAL_REQUESTED = "approval.requested", "Approval requested"
    DEPLOYMENT = "deployment", "Deployment"
    CLUSTER_ACTION = "cluster.action", "Cluster action finished"
    REMINDER = "reminder", "Reminder"
    ONCALL_REMINDER = "oncall.reminder", "On-call shift reminder"
    ONCALL_HANDOFF = "oncall.handoff", "On-call handoff"
    ONCALL_SWAP = "oncall.swap", "On-call swap"
    STATUS_SUBSCRIPTION = "status.subscription", "Status page subscription confirmation"
    TEST = "test", "Test message"


class PagerAction(models.TextChoices):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class Channel(models.Model):
    """Where messages go. Which fields matter depends on the kind; an enabled channel must be fully configured."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email (SMTP)"
        CHAT = "chat", "Chat (Slack-compatible webhook)"
        PAGER = "pager", "Pager (PagerDuty Events v2)"
        SMS = "sms", "SMS (HTTP gateway)"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    webhook_url = EncryptedURLField(blank=True, help_text="Chat: the incoming-webhook URL.")
    chat_channel = models.CharField(max_length=80, blank=True, help_text="Chat: the channel, e.g. #critical.")
    endpoint_url = models.URLField(blank=True, help_text="Pager: the Events API URL. SMS: the gateway URL.")
    routing_key = EncryptedCharField(max_length=64, blank=True, help_text="Pager: the integration's routing key.")
    auth_token = EncryptedCharField(max_length=200, blank=True, help_text="SMS: bearer token for the gateway.")

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    REQUIRED_FIELDS = {
        Kind.EMAIL: [],
        Kind.CHAT: ["webhook_url", "chat_channel"],
        Kind.PAGER: ["endpoint_url", "routing_key"],
        Kind.SMS: ["endpoint_url"],
    }

    def configuration_errors(self) -> dict[str, str]:
        required = self.REQUIRED_FIELDS.get(self.kind, [])
        if self.kind == self.Kind.CHAT and _slack_bot_configured():
            required = ["chat_channel"]  # the Slack app's bot token posts instead of a webhook
        errors = {
            field: f"A {self.get_kind_display()} channel needs {self._meta.get_field(field).verbose_name}."
            for field in required
            if not getattr(self, field)
        }
        if self.kind == self.Kind.CHAT and self.chat_channel and not self.chat_channel.startswith("#"):
            errors["chat_channel"] = "Write the chat channel with its #, e.g. #critical."
        return errors

    def clean(self) -> None:
        if self.enabled and (errors := self.configuration_errors()):
            raise ValidationError(errors)


class RoutingRule(models.Model):
    """Send events of these kinds (none listed: every kind) and this severity (empty: any) to the channel."""

    severity = models.CharField(max_length=10, choices=Severity.choices, blank=True, help_text="Empty: any severity.")
    event_kinds = models.JSONField(default=list, blank=True, help_text="Event kinds to send; none: every kind.")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="routing_rules")

    class Meta:
        ordering = ["severity", "channel__name"]
        constraints = [models.UniqueConstraint(fields=["severity", "channel"], name="uniq_route_per_channel")]

    def __str__(self) -> str:
        kinds = ", ".join(self.event_kinds) if self.event_kinds else "every event"
        return f"{self.get_severity_display() or 'Any severity'}, {kinds} -> {self.channel}"

    def matches(self, event: str, severity: str) -> bool:
        return self.severity in ("", severity) and (not self.event_kinds or event in self.event_kinds)

    def clean(self) -> None:
        if not isinstance(self.event_kinds, list):
            raise ValidationError({"event_kinds": "List the event kinds, e.g. ['incident.opened']."})
        if unknown := sorted(set(self.event_kinds) - set(EventKind.values)):
            raise ValidationError({"event_kinds": f"Unknown event kinds: {', '.join(map(str, unknown))}."})


class Subscription(models.Model):
    """A person or a mailing list that wants email about some services (none: all) and event kinds."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="subscriptions"
    )
    email = models.EmailField(blank=True, help_text="A mailing list; leave empty when subscribing a user.")
    services = models.ManyToManyField("incidents.Service", blank=True, help_text="None selected: every service.")
    event_kinds = models.JSONField(default=list, help_text="Event kinds to receive, e.g. ['incident.opened'].")
    active = models.BooleanField(default=True)
    public = models.BooleanField(
        default=False,
        help_text="Made on the public status page by confirming a signed link: receives public incident updates only.",
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["email"], condition=models.Q(public=True), name="one_public_sub_per_email"),
            models.CheckConstraint(
                condition=(models.Q(user__isnull=False) & models.Q(email=""))
                | (models.Q(user__isnull=True) & ~models.Q(email="")),
                name="subscription_user_xor_email",
            ),
        ]

    def __str__(self) -> str:
        # The audit log's name for the row: a member of the public's address must not outlive their unsubscribing.
        if self.public:
            return f"Status-page subscriber #{self.pk}"
        return f"{self.user or self.email}: {', '.join(self.event_kinds)}"

    def clean(self) -> None:
        if (self.user_id is None) == (not self.email):
            raise ValidationError("Subscribe either a user or a mailing-list address, not both or neither.")
        if self.user_id is not None and not self.user.email:
            raise ValidationError({"user": f"{self.user} has no email address; add one before subscribing them."})
        if not isinstance(self.event_kinds, list) or not self.event_kinds:
            raise ValidationError({"event_kinds": "Choose at least one event kind."})
        if unknown := sorted(set(self.event_kinds) - set(EventKind.values)):
            raise ValidationError({"event_kinds": f"Unknown event kinds: {', '.join(unknown)}."})


class Notification(models.Model):
    """Something that happened and must reach people; its deliveries carry it to each channel and recipient."""

    event_kind = models.CharField(max_length=40, choices=EventKind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    title = models.CharField(max_length=200)
    public_title = models.CharField(
        max_length=200, blank=True,
        help_text="The title status-page subscribers read (no internal reference or severity); empty: not public.",
    )  # fmt: skip
    summary = models.TextField(blank=True)
    url = models.URLField(blank=True, max_length=500)
    source = models.CharField(max_length=100, blank=True, help_text="What it is about, e.g. incident:42.")
    dedup_key = models.CharField(max_length=255, blank=True, help_text="Pager: ties trigger, ack and resolve.")
    pager_action = models.CharField(max_length=12, choices=PagerAction.choices, default=PagerAction.TRIGGER)
    calendar = models.TextField(
        blank=True, help_text="An iCalendar object with a METHOD (REQUEST, CANCEL): emails carry it as an invitation."
    )
    services = models.ManyToManyField("incidents.Service", blank=True, related_name="+")
    recipients = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        # An acknowledge or resolve looks up where its key's pages went (services._pager_teams).
        indexes = [models.Index(fields=["dedup_key", "pager_action"], name="notification_dedup_idx")]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.title}"


class Delivery(models.Model):
    """One message to one recipient over one channel: the outbox row. Written with the event, sent after commit."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="deliveries")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    address = models.CharField(
        max_length=254, blank=True, help_text="Where it went: email address, phone, #channel or pager service."
    )
    team = models.ForeignKey(
        "contacts.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The owner team this goes to: its Slack channel, or its PagerDuty service instead of the channel's.",
    )  # fmt: skip
    recipient_key = models.CharField(max_length=270, help_text="Identifies the recipient within the notification.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_error = models.TextField(blank=True)
    response = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel", "recipient_key"], name="uniq_delivery_per_recipient"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            # The delivery log's order, unfiltered and by status.
            models.Index(models.F("created_at").desc(), models.F("id").desc(), name="delivery_created_idx"),
            models.Index(
                "status", models.F("created_at").desc(), models.F("id").desc(), name="delivery_status_created_idx"
            ),
        ]

    def __str__(self) -> str:
        # Also the audit log's name for the row, which must not keep a status-page subscriber's address.
        if self.recipient_key.startswith(STATUS_KEY_PREFIX):
            return f"{self.channel} -> a status-page subscriber ({self.status})"
        return f"{self.channel} -> {self.address or self.recipient_key} ({self.status})"


class SlackApp(models.Model):
    """The portal's Slack app: its signing secret checks what Slack sends (commands, buttons); with a bot token the
    portal posts through the Web API (a root message per incident, edited, with updates in its thread) instead of
    incoming webhooks. The first enabled row is the one used."""

    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    signing_secret = EncryptedCharField(max_length=128, help_text="Basic Information > App Credentials.")
    bot_token = EncryptedCharField(max_length=200, blank=True, help_text="OAuth & Permissions: xoxb-…; optional.")
    api_url = models.URLField(default="https://slack.com/api/", help_text="Slack's Web API.")

    class Meta:
        ordering = ["pk"]
        verbose_name = "Slack app"

    def __str__(self) -> str:
        return self.name


class PagerDutyWebhook(models.Model):
    """A PagerDuty V3 webhook subscription sending incident events to the portal; signed with its secret."""

    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    secret = EncryptedCharField(max_length=128, help_text="The subscription's signing secret, shown once by PagerDuty.")
    api_token = EncryptedCharField(
        max_length=200, blank=True, help_text="A read-only REST API key: looks up the email of who acknowledged."
    )
    api_url = models.URLField(default="https://api.pagerduty.com", help_text="PagerDuty's REST API.")

    class Meta:
        ordering = ["name"]
        verbose_name = "PagerDuty webhook"

    def __str__(self) -> str:
        return self.name


class InboundEvent(models.Model):
    """A signed event from PagerDuty, kept by its id so a replay does nothing."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        DONE = "done", "Done"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    source = models.CharField(max_length=20)
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    result = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["source", "event_id"], name="uniq_inbound_event")]

    def __str__(self) -> str:
        return f"{self.source} {self.event_type} {self.event_id}"


class ChatThread(models.Model):
    """The root message the Slack Web API posted about a source (e.g. incident:42) in a channel: edited as the source
    changes, its thread takes the updates."""

    source = models.CharField(max_length=100)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    slack_channel = models.CharField(max_length=40, help_text="Slack's channel id, as chat.postMessage answered.")
    ts = models.CharField(max_length=40, help_text="The root message's timestamp (its id).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "channel"], name="uniq_chat_thread")]

    def __str__(self) -> str:
        return f"{self.source} in {self.channel}"


def _slack_bot_configured() -> bool:
    app = SlackApp.objects.filter(enabled=True).order_by("pk").first()
    return app is not None and bool(app.bot_token)
