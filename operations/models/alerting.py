from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

# Prometheus' metric-name syntax, which alert names follow.
alertname_validator = RegexValidator(r"^[A-Za-z_:][A-Za-z0-9_:]*$", "Use letters, digits and _ only, e.g. HighLatency.")


class AlertRule(models.Model):
    """One alert of the catalogue: the seeds' critical alerts and the warning/critical thresholds of their key
    metrics. Exported as a Prometheus alerting rule `(expr) comparison threshold`, held `for_seconds`, labelled with
    the severity the alert intake maps back to `severity` and with the owner team; annotated with the runbook's URL.

    A metric's warning and critical thresholds share the alert name, so "critical suppresses the same warning"
    holds between them."""

    class Comparison(models.TextChoices):
        ABOVE = ">", "above"
        AT_LEAST = ">=", "at least"
        BELOW = "<", "below"
        AT_MOST = "<=", "at most"

    name = models.CharField("alert name", max_length=100, validators=[alertname_validator])
    metric = models.CharField(max_length=100, help_text="What is measured, e.g. 'API response time (p95)'.")
    expr = models.TextField("PromQL", help_text="An expression giving the measured value, e.g. in ms or %.")
    comparison = models.CharField(max_length=2, choices=Comparison.choices, default=Comparison.ABOVE)
    threshold = models.FloatField()
    unit = models.CharField(max_length=10, blank=True, help_text="'%', 'ms', 'days', 'restarts'...")
    for_seconds = models.PositiveIntegerField(default=0, help_text="How long the condition must hold before firing.")
    trigger = models.CharField(max_length=200, help_text="As the seeds say it, e.g. 'Service unreachable 2 min'.")
    severity = models.ForeignKey("incidents.Severity", on_delete=models.PROTECT, related_name="alert_rules")
    owner_team = models.ForeignKey("contacts.Team", on_delete=models.PROTECT, related_name="alert_rules")
    runbook = models.ForeignKey(
        "operations.Runbook", on_delete=models.SET_NULL, null=True, blank=True, related_name="alert_rules"
    )
    service = models.ForeignKey(
        "incidents.Service", on_delete=models.SET_NULL, null=True, blank=True, related_name="alert_rules",
        help_text="Exported as the `service` label; empty: the expression's own labels say which.",
    )  # fmt: skip
    is_critical_alert = models.BooleanField(default=False, help_text="One of the seeds' critical alerts.")
    enabled = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name", "pk"]
        constraints = [models.UniqueConstraint(fields=["name", "severity"], name="uniq_alert_rule_per_severity")]

    def __str__(self) -> str:
        return f"{self.name} ({self.severity.code})"

    def clean(self) -> None:
        from operations.alert_rules import promql_problem

        if self.expr and (problem := promql_problem(self.expr)):
            raise ValidationError({"expr": problem})

    @property
    def condition(self) -> str:
        """The exported PromQL: the value compared with the threshold."""
        return f"({self.expr.strip()}) {self.comparison} {self.threshold:g}"
