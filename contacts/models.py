from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from portal.core.fields import EncryptedCharField
from portal.core.models import Environment

chat_channel_validator = RegexValidator(r"^#[\w.\-]{1,80}$", "Write the channel with its #, e.g. #broxiva-devops.")


class Team(models.Model):
    """A team that owns alerts, runbooks and services, and how to reach it (the seeds' emergency contacts)."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True, help_text="The `team` label of exported alert rules.")
    slack_channel = models.CharField(max_length=81, blank=True, validators=[chat_channel_validator])
    email = models.EmailField(blank=True)
    pagerduty_routing_key = EncryptedCharField(
        "PagerDuty routing key", max_length=64, blank=True,
        help_text="Events v2 integration key of the team's PagerDuty service: pages about alerts it owns go there.",
    )  # fmt: skip
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Vendor(models.Model):
    """An outside company the platform depends on, and how to get its support. Shown on incidents about its services
    or carrying one of its flags (Stripe on a payment failure)."""

    class Priority(models.TextChoices):
        BUSINESS_CRITICAL = "business_critical", "Business Critical"
        CRITICAL = "critical", "Critical"
        HIGH = "high", "High"
        NORMAL = "normal", "Normal"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    support_url = models.URLField(help_text="Where to open a support case.")
    console_url = models.URLField(blank=True, help_text="The vendor's dashboard or portal, when it is another page.")
    sla = models.CharField("SLA", max_length=100, blank=True, help_text="e.g. 'Enterprise', '24/7'.")
    priority = models.CharField(max_length=20, choices=Priority.choices, default=Priority.NORMAL)
    services = models.ManyToManyField("incidents.Service", blank=True, related_name="vendors")
    incident_flags = models.JSONField(
        default=list, blank=True, help_text='Incident flags that call for this vendor, e.g. ["payment_failure"].'
    )
    notes = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from incidents.models import Incident

        flags = self.incident_flags
        if not isinstance(flags, list) or not all(isinstance(flag, str) for flag in flags):
            raise ValidationError({"incident_flags": "Give a list of incident flags."})
        if unknown := sorted(set(flags) - set(Incident.Flag.values)):
            raise ValidationError({"incident_flags": f"Unknown incident flags: {', '.join(unknown)}."})


class DeploymentEnvironment(models.Model):
    """The guide's deployment environments: which branch deploys where, automatically or by hand."""

    environment = models.CharField(max_length=12, choices=Environment.choices, unique=True)
    branch = models.CharField(max_length=100)
    auto_deploy = models.BooleanField(default=False, help_text="Off: deploys need a manual approval.")
    url = models.URLField()
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "environment"]

    def __str__(self) -> str:
        return self.get_environment_display()


class KeyLink(models.Model):
    """A URL people need: production and development URLs, the monitoring tools. `on_incidents` ones are linked from
    every incident page (Grafana, Sentry, the status page)."""

    class Category(models.TextChoices):
        PRODUCTION = "production", "Production URLs"
        DEVELOPMENT = "development", "Development URLs"
        TOOLS = "tools", "Tools"

    name = models.CharField(max_length=100)
    url = models.URLField()
    category = models.CharField(max_length=12, choices=Category.choices)
    on_incidents = models.BooleanField(default=False, help_text="Linked from every incident page.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["category", "position", "name"]
        constraints = [models.UniqueConstraint(fields=["category", "name"], name="uniq_key_link_per_category")]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"


class Dashboard(models.Model):
    """One of the key Grafana dashboards; an incident page links those of its services (and the ones for all)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=200, blank=True)
    url = models.URLField()
    services = models.ManyToManyField(
        "incidents.Service", blank=True, related_name="dashboards", help_text="None: shown on every incident."
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name
