from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from portal.core.fields import EncryptedCharField, EncryptedURLField


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
    MAINTENANCE_SCHEDULED = "maintenance.scheduled", "Maintenance scheduled"
    MAINTENANCE_RESCHEDULED = "maintenance.rescheduled", "Maintenance rescheduled"
    MAINTENANCE_CANCELLED = "maintenance.cancelled", "Maintenance cancelled"
    MAINTENANCE_STARTED = "maintenance.started", "Maintenance started"
    MAINTENANCE_COMPLETED = "maintenance.completed", "Maintenance completed"
    SLO_BURN = "slo.burn", "SLO burning its error budget"
    SLO_BURN_ENDED = "slo.burn_ended", "SLO burn ended"
    APPROVAL_REQUESTED = "approval.requested", "Approval requested"
    REMINDER = "reminder", "Reminder"
    ONCALL_REMINDER = "oncall.reminder", "On-call shift reminder"
    ONCALL_HANDOFF = "oncall.handoff", "On-call handoff"
    ONCALL_SWAP = "oncall.swap", "On-call swap"
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
        errors = {
            field: f"A {self.get_kind_display()} channel needs {self._meta.get_field(field).verbose_name}."
            for field in self.REQUIRED_FIELDS.get(self.kind, [])
            if not getattr(self, field)
        }
        if self.kind == self.Kind.CHAT and self.chat_channel and not self.chat_channel.startswith("#"):
            errors["chat_channel"] = "Write the chat channel with its #, e.g. #critical."
        return errors

    def clean(self) -> None:
        if self.enabled and (errors := self.configuration_errors()):
            raise ValidationError(errors)


class RoutingRule(models.Model):
    severity = models.CharField(max_length=10, choices=Severity.choices)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="routing_rules")

    class Meta:
        ordering = ["severity", "channel__name"]
        constraints = [models.UniqueConstraint(fields=["severity", "channel"], name="uniq_route_per_channel")]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} -> {self.channel}"


class Subscription(models.Model):
    """A person or a mailing list that wants email about some services (none: all) and event kinds."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="subscriptions"
    )
    email = models.EmailField(blank=True, help_text="A mailing list; leave empty when subscribing a user.")
    services = models.ManyToManyField("incidents.Service", blank=True, help_text="None selected: every service.")
    event_kinds = models.JSONField(default=list, help_text="Event kinds to receive, e.g. ['incident.opened'].")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(user__isnull=False) & models.Q(email=""))
                | (models.Q(user__isnull=True) & ~models.Q(email="")),
                name="subscription_user_xor_email",
            )
        ]

    def __str__(self) -> str:
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
        return f"{self.channel} -> {self.address or self.recipient_key} ({self.status})"
