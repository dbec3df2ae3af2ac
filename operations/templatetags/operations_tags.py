from datetime import datetime

from django import template
from django.utils.safestring import SafeString

from incidents import alerts
from operations import alert_rules
from operations.markdown import render_markdown
from operations.models import ProcedureRun, QuickAction
from portal.core.templatetags.portal_tags import duration
from portal.text import duration_words

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    """Runbook Markdown, rendered and sanitized."""
    return render_markdown(text)


@register.filter
def minutes(value: int | None) -> str:
    """A duration in minutes for people: 90 -> '1 h 30 min', None -> 'n/a'."""
    return "n/a" if value is None else duration_words(value)


@register.filter
def burn(rate: float | None) -> str:
    return "no data" if rate is None else f"{rate:.1f}x"


@register.simple_tag
def quick_action_url(action: QuickAction, incident_id: int | None = None) -> str:
    """The quick action's prefilled cluster-action form, linked to the incident when there is one."""
    return action.url(incident_id)


@register.filter
def severity_label(code: str) -> str:
    """The Alertmanager `severity` label that opens an incident of this severity."""
    return alerts.severity_label(code)


@register.filter
def prom_duration(seconds: int) -> str:
    return alert_rules.duration(seconds)


@register.filter
def run_minutes(run: ProcedureRun, now: datetime) -> str:
    return duration(run.elapsed(now))


@register.filter
def rto_verdict(run: ProcedureRun, now: datetime) -> str:
    return run.rto_verdict(now)
