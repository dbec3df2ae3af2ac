from datetime import time
from functools import cached_property

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from portal.scheduling import Recurrence


class Layer(models.TextChoices):
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"


class Rotation(models.Model):
    """Who carries the pager for some services. What changes the schedule lives in its versions."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="led_rotations",
        help_text="Told when a handoff is not acknowledged within an hour.",
    )  # fmt: skip
    services = models.ManyToManyField(
        "incidents.Service", blank=True, related_name="rotations", help_text="Services this rotation covers."
    )
    archived_at = models.DateTimeField(null=True, blank=True, help_text="Archived rotations page nobody.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RotationVersion(models.Model):
    """The rotation's schedule from `effective_from` until the next version takes effect.

    Versions are never edited: a change is a new version, so who was on call in the past stays as it was.
    """

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="versions")
    effective_from = models.DateTimeField()
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA zone of the handoff time.")
    handoff_rrule = models.CharField(
        max_length=200, default="FREQ=WEEKLY;BYDAY=MO",
        help_text="RFC 5545 RRULE of the handoffs, e.g. FREQ=WEEKLY;BYDAY=MO or FREQ=DAILY;INTERVAL=3.",
    )  # fmt: skip
    handoff_time = models.TimeField(default=time(9), help_text="Local wall-clock time of each handoff.")
    start_date = models.DateField(help_text="The first handoff is on or after this local date; it goes to the first "
                                            "participant.")  # fmt: skip
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rotation", "effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["rotation", "effective_from"], name="uniq_rotation_version_start")
        ]

    def __str__(self) -> str:
        return f"{self.rotation_id} from {self.effective_from:%Y-%m-%d %H:%M} UTC"

    @cached_property
    def handoffs(self) -> Recurrence:
        return Recurrence(
            rrule=self.handoff_rrule, dtstart=self.start_date, start_time=self.handoff_time, zone=self.timezone
        )


class Participant(models.Model):
    """A place in a version's order for a layer. A version without secondary participants pages the next primary
    participant as secondary."""

    version = models.ForeignKey(RotationVersion, on_delete=models.CASCADE, related_name="participants")
    layer = models.CharField(max_length=10, choices=Layer.choices, default=Layer.PRIMARY)
    position = models.PositiveSmallIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["version", "layer", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "layer", "position"], name="uniq_participant_position"),
            models.UniqueConstraint(fields=["version", "layer", "user"], name="uniq_participant_per_layer"),
        ]

    def __str__(self) -> str:
        return f"{self.layer} #{self.position + 1}: {self.user}"


class Override(models.Model):
    """Someone covers a layer for [start, end). On PostgreSQL an exclusion constraint (initial migration) also
    refuses overlapping overrides on one layer; the service checks it everywhere."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="overrides")
    layer = models.CharField(max_length=10, choices=Layer.choices, default=Layer.PRIMARY)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="oncall_overrides")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    swap = models.ForeignKey("Swap", on_delete=models.PROTECT, null=True, blank=True, related_name="overrides")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start", "pk"]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="override_ends_after_start")]
        indexes = [models.Index(fields=["rotation", "layer", "start"])]

    def __str__(self) -> str:
        return f"{self.user} covers {self.layer} {self.start:%Y-%m-%d %H:%M}–{self.end:%Y-%m-%d %H:%M} UTC"


class Swap(models.Model):
    """Two people trade planned shifts on one layer. Accepted, it becomes two overrides."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        CANCELLED = "cancelled", "Cancelled"

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="swaps")
    layer = models.CharField(max_length=10, choices=Layer.choices, default=Layer.PRIMARY)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField(help_text="The requester's shift, which the counterparty takes.")
    end = models.DateTimeField()
    counterparty = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    counterparty_start = models.DateTimeField(help_text="The counterparty's shift, which the requester takes.")
    counterparty_end = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="swap_ends_after_start"),
            models.CheckConstraint(
                condition=Q(counterparty_end__gt=F("counterparty_start")), name="swap_counterparty_ends_after_start"
            ),
            models.CheckConstraint(condition=~Q(requester=F("counterparty")), name="swap_between_two_people"),
        ]

    def __str__(self) -> str:
        return f"Swap {self.requester} ↔ {self.counterparty} ({self.status})"


class Handoff(models.Model):
    """The primary pager changing hands, with both people's checklists. Acknowledged once every item is ticked."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="handoffs")
    at = models.DateTimeField()
    outgoing = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    incoming = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    lead_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["rotation", "at"], name="uniq_handoff_per_instant")]

    def __str__(self) -> str:
        return f"{self.rotation_id} handoff {self.at:%Y-%m-%d %H:%M} UTC"


class HandoffItem(models.Model):
    class Side(models.TextChoices):
        OUTGOING = "outgoing", "Outgoing on-call"
        INCOMING = "incoming", "Incoming on-call"

    class Automation(models.TextChoices):
        """Items the portal can tick itself, from what it sees."""

        NONE = "", "None"
        TEST_PAGE = "test_page", "Ticked when a test page reaches the incoming person"
        PAGER_TRANSFER = "pager_transfer", "Ticked at the incoming person's first acknowledgement"

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="items")
    side = models.CharField(max_length=10, choices=Side.choices)
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=300)
    incident = models.ForeignKey("incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+")  # fmt: skip
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    automation = models.CharField(max_length=20, choices=Automation.choices, blank=True, default=Automation.NONE)
    test_page = models.ForeignKey(
        "notifications.Notification", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The last test page sent for this item.",
    )  # fmt: skip

    class Meta:
        ordering = ["handoff", "side", "position"]
        constraints = [
            models.UniqueConstraint(fields=["handoff", "side", "position"], name="uniq_handoff_item_position")
        ]

    def __str__(self) -> str:
        return f"[{'x' if self.done_at else ' '}] {self.text}"


class ShiftReminder(models.Model):
    """One row per reminder sent: the sweeper's record that makes each reminder go out exactly once."""

    class Kind(models.TextChoices):
        DAYS_3 = "72h", "72 hours before"
        DAY_1 = "24h", "24 hours before"
        STARTED = "start", "You are now on call"

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="+")
    layer = models.CharField(max_length=10, choices=Layer.choices)
    kind = models.CharField(max_length=5, choices=Kind.choices)
    shift_start = models.DateTimeField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rotation", "layer", "kind", "shift_start", "user"], name="uniq_shift_reminder"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} reminder to {self.user_id} for {self.shift_start:%Y-%m-%d %H:%M} UTC"


class CalendarFeed(models.Model):
    """A secret iCalendar URL held by `owner`: a rotation's shifts, or (no rotation) the owner's own shifts.

    Only a SHA-256 of the URL's token is stored; regenerating replaces it, so the old URL stops working.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds")
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="calendar_feeds")  # fmt: skip
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    regenerated_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["owner", "rotation__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "rotation"], condition=Q(rotation__isnull=False), name="uniq_rotation_feed_per_owner"
            ),
            models.UniqueConstraint(fields=["owner"], condition=Q(rotation__isnull=True), name="uniq_own_feed"),
        ]

    def __str__(self) -> str:
        return f"{self.rotation or 'own shifts'} feed of {self.owner}"
