"""Reads of the alert catalogue, and the Prometheus rules file built from it and from the SLOs."""

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse

from contacts.models import Team
from operations.alert_rules import render_rules, rules_document
from operations.models import AlertRule, Slo
from operations.selectors.slo import burn_rules


def alert_rule_list() -> QuerySet[AlertRule]:
    return AlertRule.objects.select_related("severity", "owner_team", "runbook", "service").order_by(
        "position", "name", "severity__rank"
    )


def catalogue_owner(alertname: str) -> Team | None:
    """The team that owns an alert of the catalogue, by its name (the most severe entry's owner), or None."""
    rule = alert_rule_list().filter(name=alertname).order_by("severity__rank").first()
    return rule.owner_team if rule else None


def rules_file() -> str:
    """The exported rules file, in four queries whatever the number of alerts and SLOs."""
    base = settings.PORTAL_BASE_URL
    alert_rules = list(alert_rule_list().filter(enabled=True))
    slos = list(Slo.objects.select_related("service").filter(active=True).exclude(promql="").order_by("name"))
    document = rules_document(
        alert_rules=alert_rules,
        runbook_urls={
            rule.runbook.pk: base + reverse("runbook-detail", args=[rule.runbook.slug])
            for rule in alert_rules
            if rule.runbook is not None
        },
        slos=slos,
        burn_rules=burn_rules(),
        slo_urls={slo.pk: base + reverse("slo-detail", args=[slo.slug]) for slo in slos},
        step_seconds=settings.SLI_STEP_SECONDS,
    )
    return render_rules(document)
