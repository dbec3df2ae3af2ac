from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from operations.quick_actions import ActionKind, parameter_errors, runbook_quick_action_url


class Runbook(models.Model):
    """What to do about one kind of trouble. The body is Markdown, rendered through a sanitizer
    (operations/markdown.py). Alerts whose name is linked to a runbook show it on their incident."""

    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    when = models.CharField(max_length=300, help_text="When to use it, e.g. 'High load or slow responses'.")
    body = models.TextField(help_text="Markdown. Raw HTML is shown as text; links may only be http(s) or mailto.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_runbooks"
    )
    owner_team = models.CharField(max_length=100, blank=True)
    last_reviewed_on = models.DateField()
    review_interval_days = models.PositiveSmallIntegerField(default=30, help_text="The seeds review monthly.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def review_due_on(self) -> date:
        return self.last_reviewed_on + timedelta(days=self.review_interval_days)


class RunbookAlert(models.Model):
    """An alert name (Alertmanager's `alertname`) that this runbook answers."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="alert_links")
    alertname = models.CharField(max_length=200, db_index=True)

    class Meta:
        ordering = ["alertname"]
        constraints = [models.UniqueConstraint(fields=["runbook", "alertname"], name="uniq_runbook_alertname")]

    def __str__(self) -> str:
        return f"{self.alertname} -> {self.runbook.slug}"


class QuickAction(models.Model):
    """A button on the runbook that opens the cluster-action form prefilled with these parameters."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="quick_actions")
    position = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=100)
    kind = models.CharField(max_length=30, choices=ActionKind.choices)
    target = models.CharField(max_length=200, blank=True, help_text="Node name, or key pattern for Redis deletes.")
    deployment = models.CharField(max_length=200, blank=True)
    namespace = models.CharField(max_length=200, blank=True)
    replicas = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["runbook", "position"]
        constraints = [models.UniqueConstraint(fields=["runbook", "position"], name="uniq_quick_action_position")]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        errors = parameter_errors(kind=self.kind, target=self.target, deployment=self.deployment,
                                  namespace=self.namespace, replicas=self.replicas)  # fmt: skip
        if errors:
            raise ValidationError(errors)

    def url(self, incident: int | None = None) -> str:
        """The prefilled form, its reason naming the runbook step (the person may add to it before continuing)."""
        return runbook_quick_action_url(
            kind=self.kind, target=self.target, deployment=self.deployment, namespace=self.namespace,
            replicas=self.replicas, incident=incident, reason=f"Runbook “{self.runbook.title}”: {self.label}",
        )  # fmt: skip
