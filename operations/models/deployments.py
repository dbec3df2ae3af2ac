from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from portal.core.models import Environment

commit_validator = RegexValidator(r"^[0-9a-f]{7,40}$", "Give the commit as 7 to 40 lowercase hex digits.")


class Deployment(models.Model):
    """One deployment, as CI reported it: what went where, by whom, and how it ended. Production deployments carry
    the seeds' pre- and post-deployment checklists, staging ones the staging verification; one let through a freeze
    keeps the gate's reasons. A planned deployment is one whose `started_at` is when it is planned to start."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        STARTED = "started", "Started"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        ROLLED_BACK = "rolled_back", "Rolled back"

    service = models.ForeignKey("incidents.Service", on_delete=models.PROTECT, related_name="deployments")
    environment = models.CharField(max_length=12, choices=Environment.choices)
    version = models.CharField(max_length=100)
    commit = models.CharField(max_length=40, validators=[commit_validator])
    who = models.CharField(max_length=150, help_text="Who deployed, as CI knows them.")
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="deployments",
        help_text="The portal user called `who`, when there is one.",
    )  # fmt: skip
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.STARTED)
    change = models.CharField(max_length=200, blank=True, help_text="The change a freeze exception was approved for.")
    external_id = models.CharField(
        max_length=200, blank=True, help_text="CI's id for the run; posting it again returns the same deployment."
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    freeze_level = models.CharField(max_length=30, blank=True, help_text="The freeze in force it was let through.")
    freeze_reasons = models.JSONField(default=list, blank=True)
    freeze_pass = models.CharField(max_length=20, blank=True, help_text="What got it through the freeze in force.")
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True, related_name="deployments",
        help_text="The open P1/P2 an emergency deployment answers.",
    )  # fmt: skip
    checklist_override = models.CharField(
        max_length=300, blank=True, help_text="Why it started with pre-deployment items open."
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], condition=~Q(external_id=""), name="uniq_deployment_run")
        ]
        indexes = [models.Index(fields=["service", "started_at"]), models.Index(fields=["environment", "started_at"])]

    def __str__(self) -> str:
        return f"{self.service} {self.version} to {self.environment}"

    @property
    def is_finished(self) -> bool:
        return self.status not in {self.Status.PLANNED, self.Status.STARTED}
