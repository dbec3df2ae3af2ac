from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q


class Procedure(models.Model):
    """A step list from the seeds (database failover, regional failover, emergency maintenance, ...) that people run
    step by step, for an incident or as a DR drill."""

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=100, unique=True)
    when = models.CharField(max_length=300, help_text="When to run it, e.g. 'Primary database unavailable'.")
    runbook = models.ForeignKey(
        "operations.Runbook", on_delete=models.SET_NULL, null=True, blank=True, related_name="procedures"
    )
    objective = models.ForeignKey(
        "operations.RecoveryObjective", on_delete=models.SET_NULL, null=True, blank=True, related_name="procedures",
        help_text="The RTO a run is judged against (a drill's plan may name another).",
    )  # fmt: skip
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProcedureStep(models.Model):
    """One step; some also act in the portal when they are done (the seeds' "declare disaster event" opens a P1)."""

    class Effect(models.TextChoices):
        NONE = "", "None"
        DECLARE_P1 = "declare_p1", "Opens a P1 incident (unless one is linked)"
        NOTIFY_ONCALL_LEAD = "notify_oncall_lead", "Notifies the on-call lead"
        NOTIFY_INCIDENTS = "notify_incidents", "Posts to the incidents chat channel"
        STATUS_PAGE = "status_page", "Posts a public status update"
        OPEN_REVIEW = "open_review", "Opens the post-incident review"

    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=200)
    effect = models.CharField(max_length=20, choices=Effect.choices, blank=True, default=Effect.NONE)

    class Meta:
        ordering = ["procedure", "position"]
        constraints = [models.UniqueConstraint(fields=["procedure", "position"], name="uniq_procedure_step_position")]

    def __str__(self) -> str:
        return f"{self.position + 1}. {self.text}"


class ProcedureRun(models.Model):
    """One run of a procedure, for an incident or as a DR drill: who did each step, and when. The steps are copied
    when it starts, so a later edit of the procedure does not rewrite a run."""

    class Kind(models.TextChoices):
        INCIDENT = "incident", "For an incident"
        DRILL = "drill", "DR drill"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        ABANDONED = "abandoned", "Abandoned"

    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="runs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, null=True, blank=True, related_name="procedure_runs"
    )
    drill_plan = models.ForeignKey(
        "operations.DrillPlan", on_delete=models.SET_NULL, null=True, blank=True, related_name="procedure_runs"
    )
    maintenance = models.ForeignKey(
        "maintenance.MaintenanceOccurrence", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="procedure_runs", help_text="The emergency maintenance it is run for.",
    )  # fmt: skip
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    # The RTO in force when it started (the drill plan's objective, else the procedure's): the verdict stays.
    target_rto_minutes = models.PositiveIntegerField(null=True, blank=True)
    max_rto_minutes = models.PositiveIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="drill", incident__isnull=True) | Q(kind="incident"),
                name="procedure_drill_no_incident",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True, status="running")
                | (Q(finished_at__isnull=False) & ~Q(status="running")),
                name="procedure_run_finished_when_not_running",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.procedure} ({self.get_kind_display()}) {self.started_at:%Y-%m-%d %H:%M}"

    def elapsed(self, now: datetime) -> timedelta:
        return (self.finished_at or now) - self.started_at

    def rto_verdict(self, now: datetime) -> str:
        """'met' within the target RTO, 'acceptable' within the maximum, 'missed' beyond, '' without a target."""
        if self.target_rto_minutes is None:
            return ""
        minutes = self.elapsed(now).total_seconds() / 60
        if minutes <= self.target_rto_minutes:
            return "met"
        if self.max_rto_minutes is not None and minutes <= self.max_rto_minutes:
            return "acceptable"
        return "missed"


class ProcedureRunStep(models.Model):
    run = models.ForeignKey(ProcedureRun, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=200)
    effect = models.CharField(max_length=20, choices=ProcedureStep.Effect.choices, blank=True, default="")
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+")  # fmt: skip
    note = models.CharField(max_length=500, blank=True)
    outcome = models.CharField(max_length=300, blank=True, help_text="What the step's effect did.")

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "position"], name="uniq_run_step_position")]

    def __str__(self) -> str:
        return f"{self.position + 1}. {self.text}"
