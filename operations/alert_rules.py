"""The alert catalogue and the SLOs' burn-rate alerts as a Prometheus rules file (plain functions, no queries).

Catalogue rules fire on `(expr) comparison threshold` held for their duration. Each SLO becomes a group evaluated
every SLI_STEP_SECONDS, as the portal samples it: a recording rule turns the SLO's PromQL into the bad fraction of
that step (budget.bad_fraction: the bad share for a ratio SLI, 1 or 0 for a time slice), and one alert per burn-rate
rule fires while the average bad fraction over both the long and the short window is at least `factor` times the
budget's allowed fraction (budget.rule_fires).
"""

from collections.abc import Iterable, Sequence
from typing import Any

import yaml
from django.utils.text import slugify

from incidents.alerts import severity_label
from operations.models import AlertRule, BurnRateRule, Slo
from operations.policy import BURN_ALERT_SEVERITY

BAD_FRACTION = "portal:slo_bad_fraction"
BURN_ALERT = "SloErrorBudgetBurn"
CATALOGUE_GROUP = "broxiva-alert-catalogue"
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def promql_problem(expr: str) -> str | None:
    """A cheap check that catches what would make the whole rules file unloadable: unbalanced brackets or quotes.
    Prometheus (`promtool check rules`) is the judge of the rest."""
    if not expr.strip():
        return "Give the PromQL expression."
    if "\x00" in expr:
        return "The expression contains a NUL character."
    expected: list[str] = []
    quote = ""
    escaped = False
    for char in expr:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote != "`":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char in _PAIRS:
            expected.append(_PAIRS[char])
        elif char in _PAIRS.values() and (not expected or expected.pop() != char):
            return f"Unbalanced {char!r} in the expression."
    if quote:
        return f"Unclosed {quote} in the expression."
    if expected:
        return f"Missing {expected[-1]!r} in the expression."
    return None


def number(value: float) -> str:
    """A float as PromQL reads it back unchanged: 500, 0.001, 99.9."""
    return format(value, ".12g")


def duration(seconds: int) -> str:
    """Prometheus' duration syntax: 120 -> '2m', 3600 -> '1h', 259200 -> '3d', 90 -> '90s'."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def catalogue_rule(rule: AlertRule, *, runbook_url: str | None) -> dict[str, Any]:
    labels = {"severity": severity_label(rule.severity.code), "team": rule.owner_team.slug}
    if rule.service is not None:
        labels["service"] = rule.service.slug
    annotations = {
        "summary": f"{rule.metric} {rule.get_comparison_display()} {number(rule.threshold)}{rule.unit}".strip(),
        "description": f"{rule.trigger}. Owner: {rule.owner_team.name}; opens a {rule.severity.code} incident.",
    }
    if runbook_url:
        annotations["runbook_url"] = runbook_url
    return {"alert": rule.name, "expr": rule.condition, "for": duration(rule.for_seconds), "labels": labels,
            "annotations": annotations}  # fmt: skip


def bad_fraction_expr(slo: Slo) -> str:
    """budget.bad_fraction in PromQL, over the SLO's own expression."""
    sli = f"({slo.promql.strip()})"
    if slo.method == Slo.Method.TIME_SLICES:
        # Bad while the target is missed: below it for "at least", above it for "at most".
        missed = "<" if slo.comparison == Slo.Comparison.AT_LEAST else ">"
        return f"{sli} {missed} bool {number(slo.target)}"
    share = f"1 - {sli} / 100" if slo.comparison == Slo.Comparison.AT_LEAST else f"{sli} / 100"
    return f"clamp({share}, 0, 1)"


def burn_condition(slo: Slo, rule: BurnRateRule) -> str:
    allowed = number(slo.allowed_bad_fraction)
    selector = f'{BAD_FRACTION}{{slo="{slo.slug}"}}'
    return " and ".join(
        f"avg_over_time({selector}[{duration(minutes * 60)}]) / {allowed} >= {number(rule.factor)}"
        for minutes in (rule.long_window_minutes, rule.short_window_minutes)
    )


def slo_group(slo: Slo, rules: Sequence[BurnRateRule], *, slo_url: str, step_seconds: int) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [
        {"record": BAD_FRACTION, "expr": bad_fraction_expr(slo), "labels": {"slo": slo.slug}}
    ]
    for rule in rules:
        labels = {
            "severity": str(BURN_ALERT_SEVERITY[BurnRateRule.Action(rule.action)]),
            "slo": slo.slug,
            "burn_rule": slugify(rule.name),
            "action": rule.action,
        }
        if slo.service is not None:
            labels["service"] = slo.service.slug
        entries.append({
            "alert": BURN_ALERT,
            "expr": burn_condition(slo, rule),
            "labels": labels,
            "annotations": {
                "summary": f"SLO {slo.name}: {rule.name.lower()} ({number(rule.factor)}x the sustainable rate)",
                "description": (
                    f"The error budget of {slo.name} (target {number(slo.target)}{slo.unit}) "
                    f"burns at {number(rule.factor)}x or faster over both {duration(rule.long_window_minutes * 60)} "
                    f"and {duration(rule.short_window_minutes * 60)}."
                ),
                "runbook_url": slo_url,
            },
        })  # fmt: skip
    return {"name": f"slo-{slo.slug}", "interval": duration(step_seconds), "rules": entries}


def rules_document(
    *,
    alert_rules: Iterable[AlertRule],
    runbook_urls: dict[int, str],
    slos: Iterable[Slo],
    burn_rules: Sequence[BurnRateRule],
    slo_urls: dict[int, str],
    step_seconds: int,
) -> dict[str, Any]:
    """The rules file as data: the catalogue's group, then one group per SLO that has PromQL."""
    catalogue = [catalogue_rule(rule, runbook_url=runbook_urls.get(rule.runbook_id or 0)) for rule in alert_rules]
    groups = [{"name": CATALOGUE_GROUP, "rules": catalogue}] if catalogue else []
    if burn_rules:
        groups += [
            slo_group(slo, burn_rules, slo_url=slo_urls[slo.pk], step_seconds=step_seconds)
            for slo in slos
            if slo.promql.strip()
        ]
    return {"groups": groups}


HEADER = """\
# Prometheus rules exported by the Broxiva Ops Portal: its alert catalogue, and its SLOs' multiwindow burn-rate alerts.
# Generated; edit the catalogue and the SLOs in the portal, not this file. The `severity` label maps back to the
# incident severity shown in the catalogue when Alertmanager posts these alerts to the portal.
"""


def render_rules(document: dict[str, Any]) -> str:
    return HEADER + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)
