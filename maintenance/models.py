from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from portal.core.models import Environment


class FreezeLevel(models.TextChoices):
    """What gets through each level is one table, `maintenance.policy.LEVEL_RULES`; the gate reports the strictest
    level in force."""

    BLOCKED = "blocked", "Blocked (no deployments)"
    REDUCED = "reduced", "Reduced (deployments need approval)"
    EMERGENCY_ONLY = "emergency-only", "Emergency fixes only"


class MaintenanceWindow(models.Model):
    """A recurring window (RFC 5545 RRULE in a zone), a one-off scheduled window or emergency maintenance."""

    class Kind(models.TextChoices):
        RECURRING = "recurring", "Recurring"
        ONE_OFF = "one_off", "One-off"
        EMERGENCY = "emergency", "Emergency"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    description = models.TextField(blank=True)
    expected_impact = models.TextField(blank=True)
    environment = models.CharField(max_length=12, choices=Environment.choices, default=Environment.PRODUCTION)
    services = models.ManyToManyField("incidents.Service", blank=True, related_name="maintenance_windows")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_windows"
    )
    # Recurring windows: wall-clock start in `zone` on each occurrence of `rrule` from `dtstart`.
    rrule = models.CharField(max_length=200, blank=True, help_text="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=TU.")
    dtstart = models.DateField(null=True, blank=True, help_text="First local date the rule may fire.")
    start_time = models.TimeField(null=True, blank=True, help_text="Local wall-clock start.")
    zone = models.CharField(max_length=64, default="UTC")
    # One-off and emergency windows: their single occurrence.
    starts_at = models.DateTimeField(null=True, blank=True)
    duration = models.DurationField()
    notice_lead = models.DurationField(help_text="How long before each occurrence the notice goes out.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="recurring", dtstart__isnull=False, start_time__isnull=False, starts_at__isnull=True)
                    & ~Q(rrule="")
                )
                | (~Q(kind="recurring") & Q(rrule="", starts_at__isnull=False)),
                name="window_recurring_xor_single",
            ),
            models.CheckConstraint(condition=Q(duration__gt=timedelta(0)), name="window_duration_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class MaintenanceOccurrence(models.Model):
    """One occurrence of a window, materialized once it comes within the notice horizon (or is acted on).

    `original_start` is where the window's rule put it: with the window, its identity (and its calendar UID) for
    good, however often it is rescheduled.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        NOTIFIED = "notified", "Notified"
        IN_PROGRESS = "in_progress", "In progress"
        EXTENDED = "extended", "Extended"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    window = models.ForeignKey(MaintenanceWindow, on_delete=models.CASCADE, related_name="occurrences")
    original_start = models.DateTimeField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expected_impact = models.TextField(blank=True)
    notice_due_at = models.DateTimeField(db_index=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # iCalendar SEQUENCE: bumped by every change attendees must see (reschedule, extension, cancellation).
    sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["window", "original_start"], name="uniq_occurrence_per_original_start"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="occurrence_ends_after_start"),
        ]
        indexes = [models.Index(fields=["status", "notice_due_at"])]

    def __str__(self) -> str:
        return f"{self.window.name} {self.starts_at:%Y-%m-%d %H:%M} UTC"

    @property
    def is_open(self) -> bool:
        return self.status not in {self.Status.COMPLETED, self.Status.CANCELLED}


class ChecklistItem(models.Model):
    """One line of the seeds' pre-, during- or post-maintenance checklist, ticked per occurrence."""

    class Phase(models.TextChoices):
        PRE = "pre", "Pre-maintenance"
        DURING = "during", "During maintenance"
        POST = "post", "Post-maintenance"

    occurrence = models.ForeignKey(MaintenanceOccurrence, on_delete=models.CASCADE, related_name="checklist")
    phase = models.CharField(max_length=6, choices=Phase.choices)
    position = models.PositiveSmallIntegerField(help_text="Order within the occurrence: pre, then during, then post.")
    text = models.CharField(max_length=200)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["occurrence", "position"]
        constraints = [models.UniqueConstraint(fields=["occurrence", "position"], name="uniq_checklist_line")]

    def __str__(self) -> str:
        return f"[{'x' if self.done_at else ' '}] {self.text}"


class OccurrenceEvent(models.Model):
    """The occurrence's history: transitions, reschedules, notices, ticks."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        TRANSITION = "transition", "Status change"
        RESCHEDULED = "rescheduled", "Rescheduled"
        NOTICE = "notice", "Notice sent"
        CHECKLIST = "checklist", "Checklist"

    occurrence = models.ForeignKey(MaintenanceOccurrence, on_delete=models.CASCADE, related_name="history")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_kind_display()}: {self.message[:60]}"


class MaintenanceNotice(models.Model):
    """One emailed notice about one version of an occurrence. The unique constraint makes each one go out once."""

    class Kind(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        RESCHEDULED = "rescheduled", "Rescheduled"
        CANCELLED = "cancelled", "Cancelled"
        STARTED = "started", "Started"
        COMPLETED = "completed", "Completed"

    occurrence = models.ForeignKey(MaintenanceOccurrence, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    sequence = models.PositiveIntegerField()
    notification = models.ForeignKey(
        "notifications.Notification", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["sent_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["occurrence", "kind", "sequence"], name="uniq_notice_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} notice #{self.sequence} for {self.occurrence_id}"


class FreezeRule(models.Model):
    """A deployment freeze as data: each kind computes its dates per year, so nobody types them by hand.

    black_friday: `days_before` days before Black Friday through `days_after` days after Cyber Monday.
    quarter_end: the last `days_before` days of each quarter. holidays: each public holiday of `holiday_country`
    (empty: the HOLIDAY_COUNTRY setting), widened by `days_before`/`days_after`. one_off: `first_day`..`last_day`.
    All days are local dates in `zone`.
    """

    class Kind(models.TextChoices):
        BLACK_FRIDAY = "black_friday", "Black Friday / Cyber Monday"
        QUARTER_END = "quarter_end", "End of quarter"
        HOLIDAYS = "holidays", "Public holidays"
        ONE_OFF = "one_off", "One-off"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=14, choices=Kind.choices)
    level = models.CharField(max_length=14, choices=FreezeLevel.choices)
    environments = models.JSONField(default=list, help_text="Environments it freezes, e.g. ['production'].")
    zone = models.CharField(max_length=64, default="UTC")
    days_before = models.PositiveSmallIntegerField(default=0)
    days_after = models.PositiveSmallIntegerField(default=0)
    holiday_country = models.CharField(max_length=8, blank=True)
    first_day = models.DateField(null=True, blank=True)
    last_day = models.DateField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="one_off")
                | Q(first_day__isnull=False, last_day__isnull=False, last_day__gte=F("first_day")),
                name="one_off_freeze_has_days",
            )
        ]

    def __str__(self) -> str:
        return self.name


class FreezeException(models.Model):
    """Permission to deploy one change to one environment during a freeze, inside [starts_at, ends_at)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    change = models.CharField(max_length=300, help_text="The change's id or link, as the pipeline will send it.")
    reason = models.TextField()
    environment = models.CharField(max_length=12, choices=Environment.choices, default=Environment.PRODUCTION)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, null=True, blank=True, related_name="freeze_exceptions",
        help_text="The open P1/P2 this emergency answers: approved, it gets the change through a blocked freeze.",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="exception_ends_after_start")
        ]
        indexes = [models.Index(fields=["environment", "change", "status"])]

    def __str__(self) -> str:
        return f"Exception for {self.change} ({self.get_status_display()})"


class FreezePass(models.Model):
    """A change that went through a freeze in force: what, where, under which level and by which pass. The freeze
    page lists them, so nobody has to dig through deployments, cluster actions and maintenance to see who did."""

    class Subject(models.TextChoices):
        DEPLOYMENT = "deployment", "Deployment"
        CLUSTER_ACTION = "cluster_action", "Cluster action"
        MAINTENANCE = "maintenance", "Maintenance"

    at = models.DateTimeField(db_index=True)
    environment = models.CharField(max_length=12, choices=Environment.choices)
    level = models.CharField(max_length=14, choices=FreezeLevel.choices)
    passed_by = models.CharField(max_length=20, help_text="exception, emergency or approved-emergency.")
    subject = models.CharField(max_length=16, choices=Subject.choices)
    description = models.CharField(max_length=300)
    link = models.CharField(max_length=200, blank=True, help_text="The portal page of what went through.")
    reasons = models.JSONField(default=list, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True, related_name="freeze_passes"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_subject_display()} through a {self.level} freeze: {self.description}"
