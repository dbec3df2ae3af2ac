from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from incidents.alerts import parse_label_names, parse_matchers
from portal.accounts.models import chat_handle_validator
from portal.notifications.models import Severity as NotificationSeverity


class Service(models.Model):
    """Something the platform runs and people depend on: incidents affect services, stakeholders subscribe to them."""

    class Tier(models.IntegerChoices):
        CRITICAL = 1, "Tier 1 (critical)"
        HIGH = 2, "Tier 2 (high)"
        STANDARD = 3, "Tier 3 (standard)"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    owner_team = models.CharField(max_length=100, blank=True)
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.STANDARD)
    description = models.TextField(blank=True)
    escalation_policy = models.ForeignKey(
        "EscalationPolicy", on_delete=models.SET_NULL, null=True, blank=True, related_name="services"
    )

    class Meta:
        ordering = ["tier", "name"]

    def __str__(self) -> str:
        return self.name


class Severity(models.Model):
    """P1-P4 with the seeds' numbers. Response is in minutes, or in business days (P4: next business day)."""

    code = models.CharField(max_length=2, unique=True)
    name = models.CharField(max_length=50)
    rank = models.PositiveSmallIntegerField(unique=True, help_text="1 is the most severe.")
    description = models.CharField(max_length=200)
    examples = models.CharField(max_length=300, blank=True)
    # Acknowledge targets from the on-call response policy: within business hours, and after hours and weekends.
    response_minutes = models.PositiveIntegerField(null=True, blank=True)
    response_business_days = models.PositiveSmallIntegerField(null=True, blank=True)
    after_hours_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    after_hours_response_business_days = models.PositiveSmallIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField()
    update_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: updates as needed.")
    notification_severity = models.CharField(max_length=10, choices=NotificationSeverity.choices)
    review_required = models.BooleanField(default=False, help_text="A published post-incident review before closing.")
    escalation_factor = models.PositiveSmallIntegerField(
        default=1,
        help_text="The escalation levels' 'unresolved after' delays count this many times slower for this severity: "
        "P1/P2 keep the matrix's 30/60 min; P3 and P4 escalate on their own, slower clock.",
    )

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(
                condition=Q(response_minutes__isnull=False) | Q(response_business_days__isnull=False),
                name="severity_has_response_target",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Incident(models.Model):
    class Status(models.TextChoices):
        TRIAGE = "triage", "Detection & triage"
        INVESTIGATING = "investigating", "Investigating"
        IDENTIFIED = "identified", "Identified"
        MITIGATING = "mitigating", "Mitigating"
        MONITORING = "monitoring", "Monitoring"
        RESOLVED = "resolved", "Resolved"
        REVIEW = "review", "Post-incident review"
        CLOSED = "closed", "Closed"

    class Flag(models.TextChoices):
        """The seeds' reasons to escalate to P1 immediately."""

        SERVICE_DOWN = "service_down", "Service completely down"
        DATA_BREACH = "data_breach", "Data breach suspected"
        PAYMENT_FAILURE = "payment_failure", "Payment processing failure"
        ACTIVE_ATTACK = "active_attack", "Active security attack"
        ROOT_CAUSE_UNKNOWN = "root_cause_unknown", "Root cause unknown after 15 minutes"

    title = models.CharField(max_length=200)
    severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="incidents")
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.TRIAGE, db_index=True)
    services = models.ManyToManyField(Service, blank=True, related_name="incidents")
    impact_summary = models.TextField(blank=True)
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="commanded_incidents"
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="reported_incidents"
    )
    # The roles beside the commander (see `Incident.ROLES`).
    communications_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    operations_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    scribe = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_public = models.BooleanField(default=False, help_text="Shown on the status page; updates notify subscribers.")
    flags = models.JSONField(default=list, blank=True)
    escalation_snapshot = models.JSONField(
        default=dict, blank=True, help_text="The escalation policy in force when the incident opened."
    )
    detected_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Timers, recomputed by the services whenever what they depend on changes.
    ack_due_at = models.DateTimeField(null=True, blank=True)
    update_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    last_update_at = models.DateTimeField(null=True, blank=True)
    # What the newest status update promised ("We will provide updates every X minutes"): the update timer keeps it.
    promised_update_minutes = models.PositiveIntegerField(null=True, blank=True)
    # Optimistic locking: every change increments it; a writer that read an older version gets a 409.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    CLOSED_STATUSES = (Status.RESOLVED, Status.REVIEW, Status.CLOSED)

    class Role(models.TextChoices):
        """The incident roles people hold; each value names the field that holds it."""

        COMMANDER = "commander", "Incident commander"
        COMMUNICATIONS_LEAD = "communications_lead", "Communications lead"
        OPERATIONS_LEAD = "operations_lead", "Operations lead"
        SCRIBE = "scribe", "Scribe"

    class Meta:
        ordering = ["-detected_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "severity"]),
            # The lists' default order, for all incidents and for open ones (the dashboard, the list page's default).
            models.Index(F("detected_at").desc(), F("id").desc(), name="incident_detected_idx"),
            models.Index("status", F("detected_at").desc(), F("id").desc(), name="incident_status_detected_idx"),
            models.Index(
                F("detected_at").desc(),
                F("id").desc(),
                name="incident_open_detected_idx",
                condition=~Q(status__in=["resolved", "review", "closed"]),
            ),
            # The public status page reads public incidents by resolution (its past incidents and uptime history):
            # few rows of a table that otherwise it would scan whole.
            models.Index(F("resolved_at").desc(), name="incident_public_resolved_idx", condition=Q(is_public=True)),
        ]

    def __str__(self) -> str:
        return f"INC-{self.pk}: {self.title}"

    @property
    def reference(self) -> str:
        return self.reference_of(self.pk)

    @staticmethod
    def reference_of(pk: int) -> str:
        return f"INC-{pk}"

    @property
    def is_open(self) -> bool:
        return self.status not in {self.Status.RESOLVED, self.Status.REVIEW, self.Status.CLOSED}


class TimelineEvent(models.Model):
    """One ordered line of the incident's story: who did what, when."""

    class Kind(models.TextChoices):
        DECLARED = "declared", "Declared"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        TRANSITION = "transition", "Status change"
        SEVERITY = "severity", "Severity change"
        ASSIGNMENT = "assignment", "Assignment"
        STATUS_UPDATE = "status_update", "Status update"
        NOTE = "note", "Note"
        FLAG = "flag", "Escalation flag"
        ALERT = "alert", "Alert"
        ACTION = "action", "Cluster action"
        LOOK = "look", "Looked at"
        REMINDER = "reminder", "Reminder"
        ESCALATION = "escalation", "Escalation"
        REVIEW = "review", "Review"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["incident", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%H:%M} {self.get_kind_display()}: {self.message[:60]}"


class StatusUpdate(models.Model):
    """The seeds' status-update template: status, description, affected services, impact, next update."""

    class Label(models.TextChoices):
        INVESTIGATING = "investigating", "Investigating"
        IDENTIFIED = "identified", "Identified"
        MONITORING = "monitoring", "Monitoring"
        RESOLVED = "resolved", "Resolved"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="status_updates")
    label = models.CharField(max_length=15, choices=Label.choices)
    description = models.TextField()
    affected_services = models.JSONField(default=list, help_text="Service names at the time of the update.")
    impact = models.TextField(blank=True)
    next_update_minutes = models.PositiveIntegerField(null=True, blank=True)
    is_public = models.BooleanField(default=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    posted_at = models.DateTimeField()

    class Meta:
        ordering = ["-posted_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_label_display()}: {self.description[:60]}"


class TimerReminder(models.Model):
    """One row per missed deadline that was notified: the sweeper's record that makes reminders idempotent."""

    class Timer(models.TextChoices):
        ACKNOWLEDGE = "acknowledge", "Acknowledge"
        UPDATE = "update", "Status update"
        RESOLUTION = "resolution", "Resolution"
        REVIEW = "review", "Post-incident review"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="reminders")
    timer = models.CharField(max_length=12, choices=Timer.choices)
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "timer", "due_at"], name="uniq_reminder_per_deadline")
        ]

    def __str__(self) -> str:
        return f"{self.incident.reference} {self.timer} due {self.due_at:%Y-%m-%d %H:%M}"


class PostIncidentReview(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="review")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    scheduled_for = models.DateTimeField(help_text="The review meeting, 24-48 h after resolution.")
    due_at = models.DateTimeField(null=True, blank=True, help_text="Published by: 48 h after resolution.")
    summary = models.TextField(blank=True)
    facts = models.TextField(
        blank=True, help_text="What happened, prefilled from the incident when the review opens; people edit it."
    )
    root_cause = models.TextField(blank=True)
    contributing_factors = models.TextField(blank=True)
    timeline_snapshot = models.JSONField(default=list, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"Review of {self.incident.reference}"


class ActionItem(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    review = models.ForeignKey(PostIncidentReview, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="action_items")
    due_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    ticket_url = models.URLField(max_length=500, blank=True, help_text="The tracker's ticket for the work.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_date", "pk"]

    def __str__(self) -> str:
        return self.title


class EscalationPolicy(models.Model):
    """The seeds' escalation matrix as data: who is paged, on which condition. Services point at their policy."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    is_default = models.BooleanField(default=False, help_text="Used for incidents whose services name no policy.")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_policy")
        ]

    def __str__(self) -> str:
        return self.name


class EscalationLevel(models.Model):
    class Target(models.TextChoices):
        ONCALL_PRIMARY = "oncall_primary", "Primary on-call of the service's rotation"
        ONCALL_SECONDARY = "oncall_secondary", "Secondary on-call of the service's rotation"
        USERS = "users", "Named people"
        GROUP = "group", "Everyone in a group"

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    level = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    target = models.CharField(max_length=20, choices=Target.choices)
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    group = models.ForeignKey("auth.Group", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    immediate_max_rank = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Page at once for this severity rank or worse (2: P1 and P2)."
    )
    after_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Page when unresolved this long.")
    manual_only = models.BooleanField(default=False, help_text="Only a commander escalates here (business impact).")
    # The matrix's "contact method" column: how people reach this level by hand, beside the pages the portal sends.
    contact_methods = models.JSONField(default=list, blank=True, help_text='e.g. ["chat", "phone"].')
    chat_handle = models.CharField(
        max_length=81,
        blank=True,
        validators=[chat_handle_validator],
        help_text="The level's handle, e.g. @platform-lead.",
    )

    class ContactMethod(models.TextChoices):
        PAGER = "pager", "PagerDuty"
        CHAT = "chat", "Slack"
        PHONE = "phone", "Phone"
        EMAIL = "email", "Email"

    class Meta:
        ordering = ["policy", "level"]
        constraints = [models.UniqueConstraint(fields=["policy", "level"], name="uniq_level_per_policy")]

    def __str__(self) -> str:
        return f"L{self.level} {self.name}"

    def clean(self) -> None:
        if self.target == self.Target.GROUP and self.group_id is None:
            raise ValidationError({"group": "Choose the group to page."})
        if self.target != self.Target.GROUP and self.group_id is not None:
            raise ValidationError({"group": "Only group levels name a group."})
        methods = self.contact_methods
        if not isinstance(methods, list) or not set(methods) <= set(self.ContactMethod.values):
            raise ValidationError(
                {"contact_methods": f"Give a list of contact methods from {', '.join(self.ContactMethod.values)}."}
            )
        if not self.manual_only and self.immediate_max_rank is None and self.after_minutes is None:
            raise ValidationError(
                {"after_minutes": "Say when this level is paged: a severity, a delay, or mark it manual only."}
            )


class EscalationStep(models.Model):
    """A deadline row: page this level of the incident's (snapshotted) policy at `due_at`, exactly once."""

    class Kind(models.TextChoices):
        LEVEL = "level", "Escalation level"
        SECONDARY = "secondary", "Secondary on-call (primary did not acknowledge)"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="escalation_steps")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    level = models.PositiveSmallIntegerField()
    due_at = models.DateTimeField(null=True, blank=True, help_text="Empty: only by hand.")
    paged_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["kind", "level"]
        constraints = [models.UniqueConstraint(fields=["incident", "kind", "level"], name="uniq_step_per_level")]
        indexes = [models.Index(fields=["paged_at", "due_at"])]

    def __str__(self) -> str:
        return f"{self.incident.reference} {self.kind} L{self.level}"


# Alert intake


class Integration(models.Model):
    """A system that sends alerts, with its bearer token. Only a SHA-256 of the token is stored; it is shown once."""

    class Kind(models.TextChoices):
        ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ALERTMANAGER)
    token_prefix = models.CharField(max_length=8, help_text="First characters of the token, to recognise it.")
    token_hash = models.CharField(max_length=64, unique=True)
    token_issued_at = models.DateTimeField()
    enabled = models.BooleanField(default=True, help_text="A disabled integration's token is refused.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    grouping_labels = models.JSONField(
        default=list,
        blank=True,
        help_text='Labels whose values group alerts into one incident, e.g. ["service", "alertname"]. '
        "Empty: Alertmanager's groupKey (the route's group_by).",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            parse_label_names(self.grouping_labels)
        except ValueError as exc:
            raise ValidationError({"grouping_labels": str(exc)}) from exc


class SuppressionRule(models.Model):
    """Alertmanager's inhibit_rules as data: while an alert matching `source_matchers` fires, alerts matching
    `target_matchers` with the same value of every `equal` label open no incident (see incidents/alerts.py)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    source_matchers = models.JSONField(default=list, help_text='e.g. ["alertname=\\"ServiceDown\\""]')
    target_matchers = models.JSONField(default=list, help_text='e.g. ["alertname=\\"HighLatency\\""]')
    equal = models.JSONField(default=list, blank=True, help_text='Labels that must be equal, e.g. ["service"].')
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        for name, parse in (
            ("source_matchers", parse_matchers),
            ("target_matchers", parse_matchers),
            ("equal", parse_label_names),
        ):
            try:
                parse(getattr(self, name))
            except ValueError as exc:
                errors[name] = str(exc)
        if errors:
            raise ValidationError(errors)


class AlertGroup(models.Model):
    """The incident a group of alerts shares: alerts with the same group key (Alertmanager's groupKey, or the values
    of the integration's grouping labels) attach to it while it is open. Machine data: not audited.

    `is_open` is True for the key's current group and NULL once a firing after people resolved its incident started
    a new one; a unique constraint over (integration, key_hash, is_open) keeps one open group per key, so concurrent
    payloads of one group open one incident.
    """

    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="alert_groups")
    key = models.TextField(help_text="Alertmanager's groupKey, or the grouping labels' values.")
    key_hash = models.CharField(max_length=64, help_text="SHA-256 of the key: keys can be long.")
    labels = models.JSONField(default=dict, blank=True, help_text="The labels that define the group.")
    is_open = models.BooleanField(null=True, default=True)
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="alert_group")
    alert_count = models.PositiveIntegerField(default=0, help_text="Alerts attached to the incident.")
    created_at = models.DateTimeField()
    last_alert_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_alert_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "key_hash", "is_open"], name="uniq_open_alert_group"),
            models.CheckConstraint(
                condition=Q(is_open=True) | Q(is_open__isnull=True), name="alert_group_open_true_or_null"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.alert_count} alerts)"


class Alert(models.Model):
    """One alert by fingerprint, as Alertmanager last sent it. Machine data: not audited.

    `is_open` is True for the fingerprint's current row and NULL once a newer firing replaced it. A unique constraint
    over (integration, fingerprint, is_open) then allows one open row per fingerprint (NULLs never collide), which
    makes concurrent intake of the same alert safe.
    """

    class Status(models.TextChoices):
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"

    # No index of its own: `uniq_open_alert` begins with it, and each index costs every alert intake writes.
    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="alerts", db_index=False)
    fingerprint = models.CharField(max_length=64)
    is_open = models.BooleanField(null=True, default=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    alertname = models.CharField(max_length=200)
    labels = models.JSONField(default=dict)
    annotations = models.JSONField(default=dict, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    generator_url = models.CharField(max_length=2000, blank=True)
    service = models.ForeignKey(Service, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts")
    service_label = models.CharField(
        max_length=200, blank=True, help_text="The service (or job) label as sent, known to the portal or not."
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts", db_index=False
    )  # indexed with the alert's name (Meta)
    suppressed_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="suppresses"
    )
    suppression_rule = models.ForeignKey(
        SuppressionRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    first_received_at = models.DateTimeField()
    last_received_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "fingerprint", "is_open"], name="uniq_open_alert"),
            models.CheckConstraint(condition=Q(is_open=True) | Q(is_open__isnull=True), name="alert_open_true_or_null"),
        ]
        indexes = [
            models.Index(fields=["is_open", "status"]),
            models.Index(fields=["fingerprint"]),
            # The alerts list's default order (`/api/v1/alerts/`), which otherwise sorts every alert ever received.
            models.Index(F("last_received_at").desc(), F("id").desc(), name="alert_received_idx"),
            # An incident's alerts, and the names that find its owning team in the catalogue without reading them
            # (`incidents_alertnames`): 5.6 -> 3.5 ms for the API's page of 50 storm incidents of 20 alerts each.
            models.Index(fields=["incident", "alertname"], name="alert_incident_name_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.alertname} [{self.status}] {self.fingerprint}"
