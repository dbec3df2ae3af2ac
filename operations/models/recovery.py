from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class Priority(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class RecoveryObjective(models.Model):
    """How much data a component may lose (RPO) and how long it may be down (RTO), from the seeds' tables. Empty RTO:
    not applicable (logs). Maximums, where the seeds give them, are the worst still acceptable."""

    component = models.CharField(max_length=100, unique=True)
    rpo_minutes = models.PositiveIntegerField(help_text="0: stateless, nothing to lose.")
    rpo_max_minutes = models.PositiveIntegerField(null=True, blank=True)
    rto_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: not applicable.")
    rto_max_minutes = models.PositiveIntegerField(null=True, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices)
    notes = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "component"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rpo_max_minutes__isnull=True) | Q(rpo_max_minutes__gte=models.F("rpo_minutes")),
                name="objective_rpo_max_not_below_target",
            ),
            models.CheckConstraint(
                condition=Q(rto_max_minutes__isnull=True)
                | Q(rto_minutes__isnull=False, rto_max_minutes__gte=models.F("rto_minutes")),
                name="objective_rto_max_not_below_target",
            ),
        ]

    def __str__(self) -> str:
        return self.component

    def clean(self) -> None:
        if (
            self.rpo_max_minutes is not None
            and self.rpo_minutes is not None
            and self.rpo_max_minutes < self.rpo_minutes
        ):
            raise ValidationError({"rpo_max_minutes": "The maximum cannot be below the target."})
        if self.rto_max_minutes is not None and (self.rto_minutes is None or self.rto_max_minutes < self.rto_minutes):
            raise ValidationError({"rto_max_minutes": "The maximum needs a target and cannot be below it."})


class BackupSchedule(models.Model):
    """A line of the seeds' backup schedule. `rrule` (RFC 5545, in UTC from `start_time`) is empty for continuous
    backups such as WAL archiving."""

    name = models.CharField(max_length=100, unique=True)
    component = models.CharField(max_length=100)
    frequency = models.CharField(max_length=100, help_text="As the seeds say it, e.g. 'Daily (2:00 AM UTC)'.")
    rrule = models.CharField(max_length=200, blank=True, help_text="e.g. FREQ=DAILY; empty: continuous.")
    start_time = models.TimeField(null=True, blank=True, help_text="UTC time of day of the first run.")
    retention_days = models.PositiveIntegerField()
    extended_retention_days = models.PositiveIntegerField(null=True, blank=True)
    extended_retention_tier = models.CharField(max_length=50, blank=True, help_text="e.g. 'secondary', 'cold'.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rrule="", start_time__isnull=True) | (~Q(rrule="") & Q(start_time__isnull=False)),
                name="backup_schedule_rrule_with_time",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from operations.policy import backup_recurrence

        if bool(self.rrule) != (self.start_time is not None):
            raise ValidationError({"start_time": "A scheduled backup needs both its RRULE and its start time."})
        if self.rrule:
            backup_recurrence(self)  # raises ScheduleError naming the field


class DrillPlan(models.Model):
    """The seeds' quarterly DR testing schedule: which test runs in which quarter, measured against which objective."""

    quarter = models.PositiveSmallIntegerField(unique=True, validators=[MinValueValidator(1), MaxValueValidator(4)])
    test_type = models.CharField(max_length=100)
    scope = models.CharField(max_length=200)
    objective = models.ForeignKey(RecoveryObjective, on_delete=models.PROTECT, related_name="drill_plans")

    class Meta:
        ordering = ["quarter"]
        constraints = [models.CheckConstraint(condition=Q(quarter__gte=1, quarter__lte=4), name="drill_quarter_1_4")]

    def __str__(self) -> str:
        return f"Q{self.quarter} {self.test_type}"


class DrillRecord(models.Model):
    """A DR drill that was run, with the RTO and RPO it measured and the targets in force at the time."""

    class Verdict(models.TextChoices):
        MET = "met", "Met the target"
        ACCEPTABLE = "acceptable", "Missed the target, within the maximum"
        MISSED = "missed", "Missed"

    plan = models.ForeignKey(DrillPlan, on_delete=models.PROTECT, null=True, blank=True, related_name="records")
    objective = models.ForeignKey(RecoveryObjective, on_delete=models.PROTECT, related_name="drills")
    procedure_run = models.OneToOneField(
        "operations.ProcedureRun", on_delete=models.PROTECT, null=True, blank=True, related_name="drill_record",
        help_text="The procedure the drill ran, step by step.",
    )  # fmt: skip
    year = models.PositiveSmallIntegerField()
    performed_at = models.DateTimeField()
    measured_rto_minutes = models.PositiveIntegerField()
    measured_rpo_minutes = models.PositiveIntegerField()
    # The objective's numbers when recorded: a later change of target does not rewrite past verdicts.
    target_rto_minutes = models.PositiveIntegerField(null=True, blank=True)
    max_rto_minutes = models.PositiveIntegerField(null=True, blank=True)
    target_rpo_minutes = models.PositiveIntegerField()
    max_rpo_minutes = models.PositiveIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-performed_at", "-pk"]

    def __str__(self) -> str:
        return (
            f"{self.plan or 'Drill'} {self.year}: RTO {self.measured_rto_minutes} min, RPO {self.measured_rpo_minutes}"
        )

    @staticmethod
    def _verdict(measured: int, target: int | None, maximum: int | None) -> "DrillRecord.Verdict":
        if target is None or measured <= target:
            return DrillRecord.Verdict.MET
        if maximum is not None and measured <= maximum:
            return DrillRecord.Verdict.ACCEPTABLE
        return DrillRecord.Verdict.MISSED

    @property
    def rto_verdict(self) -> "DrillRecord.Verdict":
        return self._verdict(self.measured_rto_minutes, self.target_rto_minutes, self.max_rto_minutes)

    @property
    def rpo_verdict(self) -> "DrillRecord.Verdict":
        return self._verdict(self.measured_rpo_minutes, self.target_rpo_minutes, self.max_rpo_minutes)

    @property
    def verdict(self) -> "DrillRecord.Verdict":
        order = [self.Verdict.MET, self.Verdict.ACCEPTABLE, self.Verdict.MISSED]
        return max(self.rto_verdict, self.rpo_verdict, key=order.index)


class BackupVerification(models.Model):
    """Someone checked the day's backups: one record per day. A past day without one shows red on the dashboard."""

    class Result(models.TextChoices):
        OK = "ok", "Backups verified"
        FAILED = "failed", "Backups failed verification"

    day = models.DateField(unique=True)
    result = models.CharField(max_length=10, choices=Result.choices)
    notes = models.TextField(blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField()

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day}: {self.get_result_display()}"
