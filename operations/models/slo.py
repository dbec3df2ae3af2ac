from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


class Slo(models.Model):
    """A service level objective from the seeds' table: an SLI, its target and maximum acceptable value, and where
    its values come from. The error budget is the share of the 30-day window allowed to be bad (see budget.py)."""

    class Comparison(models.TextChoices):
        AT_LEAST = "gte", "at least (higher is better)"
        AT_MOST = "lte", "at most (lower is better)"

    class Method(models.TextChoices):
        RATIO = "ratio", "Ratio: the SLI is a percentage of good (or, at most, bad) events"
        TIME_SLICES = "time_slices", "Time slices: time during which the SLI meets its target"

    class Source(models.TextChoices):
        PROMETHEUS = "prometheus", "Prometheus query"
        API = "api", "Posted through the API"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    service = models.ForeignKey(
        "incidents.Service", on_delete=models.SET_NULL, null=True, blank=True, related_name="slos"
    )
    sli = models.CharField("SLI", max_length=100, help_text="What is measured, e.g. 'Response time (p95)'.")
    measurement = models.CharField(max_length=100, blank=True, help_text="The seeds' measurement, e.g. 'Uptime "
                                                                         "monitoring'.")  # fmt: skip
    unit = models.CharField(max_length=10, help_text="'%' or 'ms'.")
    comparison = models.CharField(max_length=3, choices=Comparison.choices)
    target = models.FloatField()
    max_acceptable = models.FloatField(help_text="Worse than this is a breach, not just a miss.")
    method = models.CharField(max_length=12, choices=Method.choices)
    time_slice_objective = models.FloatField(
        null=True, blank=True, help_text="Time slices: the percentage of time the SLI must meet its target."
    )
    source = models.CharField(max_length=12, choices=Source.choices)
    prometheus_url = models.URLField(blank=True, help_text="Empty: the PROMETHEUS_URL setting.")
    promql = models.TextField("PromQL", blank=True, help_text="An instant-vector expression giving one number.")
    active = models.BooleanField(default=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_fetch_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "SLO"
        constraints = [
            models.CheckConstraint(
                condition=Q(comparison="gte", max_acceptable__lte=models.F("target"))
                | Q(comparison="lte", max_acceptable__gte=models.F("target")),
                name="slo_max_acceptable_not_better_than_target",
            ),
            models.CheckConstraint(
                condition=Q(method="ratio") | Q(time_slice_objective__gt=0, time_slice_objective__lt=100),
                name="slo_time_slices_have_objective",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.comparison == self.Comparison.AT_LEAST and self.max_acceptable > self.target:
            errors["max_acceptable"] = "With 'at least', the maximum acceptable value cannot be above the target."
        if self.comparison == self.Comparison.AT_MOST and self.max_acceptable < self.target:
            errors["max_acceptable"] = "With 'at most', the maximum acceptable value cannot be below the target."
        if self.method == self.Method.RATIO:
            if self.unit != "%":
                errors["unit"] = "A ratio SLI is a percentage: use '%'."
            if not 0 < self.target < 100:
                errors["target"] = "A ratio target is a percentage strictly between 0 and 100."
        elif self.time_slice_objective is None or not 0 < self.time_slice_objective < 100:
            errors["time_slice_objective"] = "Give the percentage of good time, strictly between 0 and 100."
        if self.source == self.Source.PROMETHEUS and not self.promql.strip():
            errors["promql"] = "A Prometheus SLO needs its PromQL expression."
        if errors:
            raise ValidationError(errors)

    @property
    def allowed_bad_fraction(self) -> float:
        """The error budget as a share of the window: 99.9% allows 0.001 of it to be bad."""
        if self.method == self.Method.TIME_SLICES:
            fraction = (100 - (self.time_slice_objective or 0)) / 100
        else:
            fraction = (100 - self.target) / 100 if self.comparison == self.Comparison.AT_LEAST else self.target / 100
        return round(fraction, 12)  # 100 - 99.9 is 0.0999999...: 43.2 minutes should say 43.2

    def meets(self, value: float, threshold: float | None = None) -> bool:
        """Whether an SLI value is as good as `threshold` (default: the target)."""
        bound = self.target if threshold is None else threshold
        return value >= bound if self.comparison == self.Comparison.AT_LEAST else value <= bound


class SliSample(models.Model):
    """One SLI value covering [start, start + seconds): from Prometheus or posted through the API. Machine data."""

    class Source(models.TextChoices):
        PROMETHEUS = "prometheus", "Prometheus"
        API = "api", "API"

    slo = models.ForeignKey(Slo, on_delete=models.CASCADE, related_name="samples")
    start = models.DateTimeField()
    seconds = models.PositiveIntegerField(help_text="How long the value covers.")
    value = models.FloatField()
    source = models.CharField(max_length=12, choices=Source.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start"]
        constraints = [
            models.UniqueConstraint(fields=["slo", "start"], name="uniq_sample_start"),
            models.CheckConstraint(condition=Q(seconds__gt=0), name="sample_covers_time"),
        ]

    def __str__(self) -> str:
        return f"{self.slo.slug} {self.start:%Y-%m-%d %H:%M} = {self.value:g}"

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)


class BurnRateRule(models.Model):
    """A multi-window burn-rate alert: fires while the budget burns at `factor` times the sustainable rate over both
    the long and the short window (the short one makes it stop soon after the burn does)."""

    class Action(models.TextChoices):
        PAGE = "page", "Page"
        TICKET = "ticket", "Ticket"

    name = models.CharField(max_length=100, unique=True)
    factor = models.FloatField(help_text="14.4 burns a 30-day budget in about 2 days.")
    long_window_minutes = models.PositiveIntegerField()
    short_window_minutes = models.PositiveIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["-factor"]
        constraints = [
            models.CheckConstraint(
                condition=Q(short_window_minutes__gt=0, long_window_minutes__gt=models.F("short_window_minutes")),
                name="burn_rule_short_window_inside_long",
            ),
            models.CheckConstraint(condition=Q(factor__gt=0), name="burn_rule_factor_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.factor is not None and self.factor <= 0:
            raise ValidationError({"factor": "The burn rate factor must be above 0."})
        if self.short_window_minutes and self.long_window_minutes <= self.short_window_minutes:
            raise ValidationError({"long_window_minutes": "The long window must be longer than the short one."})

    @property
    def long_window(self) -> timedelta:
        return timedelta(minutes=self.long_window_minutes)

    @property
    def short_window(self) -> timedelta:
        return timedelta(minutes=self.short_window_minutes)


class BurnAlert(models.Model):
    """One episode of a burn-rate rule firing for an SLO: notified when it starts and when it ends, never in
    between. At most one open episode per (SLO, rule), enforced by the database."""

    slo = models.ForeignKey(Slo, on_delete=models.CASCADE, related_name="burn_alerts")
    rule = models.ForeignKey(BurnRateRule, on_delete=models.CASCADE, related_name="alerts")
    action = models.CharField(max_length=10, choices=BurnRateRule.Action.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    long_burn_rate = models.FloatField()
    short_burn_rate = models.FloatField()
    budget_remaining = models.FloatField(help_text="Share of the 30-day budget left when it started.")

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["slo", "rule"], condition=Q(ended_at__isnull=True), name="one_open_burn_alert_per_rule"
            )
        ]

    def __str__(self) -> str:
        return f"{self.slo} {self.rule} since {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class SloBreach(models.Model):
    """One episode of an SLO's latest value being worse than its maximum acceptable: the service's on-call is told
    once when it starts (and when it ends). At most one open episode per SLO, enforced by the database."""

    slo = models.ForeignKey(Slo, on_delete=models.CASCADE, related_name="breaches")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    value = models.FloatField(help_text="The value that began the episode.")
    notified = models.ForeignKey(
        "notifications.Notification", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["slo"], condition=Q(ended_at__isnull=True), name="one_open_breach_per_slo")
        ]

    def __str__(self) -> str:
        return f"{self.slo} breached since {self.started_at:%Y-%m-%d %H:%M}"
