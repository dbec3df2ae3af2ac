from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

MAX_ITEM_LENGTH = 200


class ChecklistTemplate(models.Model):
    """The seeds' checklists: daily, weekly, monthly (and quarterly) operations tasks, generated once per period and
    given to the primary on-call; the pre- and post-deployment checklists, attached to production deployments, and the
    staging verification, attached to staging ones."""

    class Kind(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"
        QUARTERLY = "quarterly", "Quarterly"
        PRE_DEPLOYMENT = "pre_deployment", "Pre-deployment"
        POST_DEPLOYMENT = "post_deployment", "Post-deployment"
        STAGING_VERIFICATION = "staging_verification", "Staging verification"

    PERIODIC = (Kind.DAILY, Kind.WEEKLY, Kind.MONTHLY, Kind.QUARTERLY)
    DEPLOYMENT = (Kind.PRE_DEPLOYMENT, Kind.POST_DEPLOYMENT, Kind.STAGING_VERIFICATION)

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    items = models.JSONField(default=list, help_text='The tasks, in order: ["Review error logs in Sentry", ...].')
    service = models.ForeignKey(
        "incidents.Service", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="Whose rotation's primary on-call gets it; empty: any rotation's.",
    )  # fmt: skip
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        items = self.items
        if not isinstance(items, list) or not items:
            raise ValidationError({"items": "List at least one task."})
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item.strip() or len(item) > MAX_ITEM_LENGTH:
                raise ValidationError({"items": f"Task {index + 1} must be text of 1 to {MAX_ITEM_LENGTH} characters."})

    @property
    def is_periodic(self) -> bool:
        return self.kind in self.PERIODIC


class Checklist(models.Model):
    """One run of a template: for one period [period_start, period_end), or for one deployment."""

    template = models.ForeignKey(ChecklistTemplate, on_delete=models.PROTECT, related_name="checklists")
    title = models.CharField(max_length=150)
    kind = models.CharField(max_length=20, choices=ChecklistTemplate.Kind.choices)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True, help_text="Due: overdue after this, if not complete.")
    deployment = models.ForeignKey(
        "operations.Deployment", on_delete=models.CASCADE, null=True, blank=True, related_name="checklists"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="checklists"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start", "-created_at", "-pk"]
        constraints = [
            # What makes generation idempotent: a second sweep (or a racing one) cannot add the same period twice.
            models.UniqueConstraint(
                fields=["template", "period_start"],
                condition=Q(period_start__isnull=False),
                name="uniq_checklist_per_period",
            ),  # fmt: skip
            models.UniqueConstraint(
                fields=["template", "deployment"],
                condition=Q(deployment__isnull=False),
                name="uniq_checklist_per_deployment",
            ),  # fmt: skip
            models.CheckConstraint(
                condition=Q(
                    period_start__isnull=False, period_end__gt=models.F("period_start"), deployment__isnull=True
                )
                | Q(period_start__isnull=True, period_end__isnull=True, deployment__isnull=False),
                name="checklist_period_xor_deployment",
            ),  # fmt: skip
        ]
        indexes = [models.Index(fields=["completed_at", "period_end"])]

    def __str__(self) -> str:
        return self.title

    def is_overdue(self, now: datetime) -> bool:
        return self.completed_at is None and self.period_end is not None and self.period_end <= now


class ChecklistItem(models.Model):
    checklist = models.ForeignKey(Checklist, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=MAX_ITEM_LENGTH)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["checklist", "position"]
        constraints = [models.UniqueConstraint(fields=["checklist", "position"], name="uniq_checklist_item_position")]

    def __str__(self) -> str:
        return f"[{'x' if self.done_at else ' '}] {self.text}"
