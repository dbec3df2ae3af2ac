"""Operations pages: SLOs, runbooks, deployments, recovery (DR and backups) and checklists. Writes go through the
services; checklist ticks swap the checklist in place through htmx."""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from incidents.models import Incident
from operations.budget import WINDOW
from operations.charts import budget_chart_svg
from operations.filters import ChecklistFilter, DeploymentFilter
from operations.forms import (
    AbandonForm,
    BackupVerificationForm,
    DeploymentStartForm,
    DrillFromRunForm,
    DrillRecordForm,
    ProcedureStartForm,
    StepDoneForm,
    TickForm,
)
from operations.models import AlertRule, BackupSchedule, ChecklistItem, ProcedureRun, RecoveryObjective
from operations.policy import deploy_freeze, next_backup, operations_day
from operations.selectors.alerting import alert_rule_list
from operations.selectors.checklists import checklist_detail as checklist_queryset
from operations.selectors.checklists import checklist_list as checklists_queryset
from operations.selectors.deployments import deployment_detail as deployment_queryset
from operations.selectors.deployments import deployment_list as deployments_queryset
from operations.selectors.procedures import procedure_list as procedures_queryset
from operations.selectors.procedures import procedure_run_list as procedure_runs_queryset
from operations.selectors.procedures import timed_steps
from operations.selectors.recovery import backup_status, drill_plans, drill_records
from operations.selectors.runbooks import runbook_list as runbooks_queryset
from operations.selectors.slo import burn_alerts, burn_rules, slo_budget_history, slo_statuses
from operations.selectors.slo import slo_list as slos_queryset
from operations.services.checklists import checklist_item_set_done
from operations.services.deployments import deployment_start
from operations.services.procedures import procedure_run_abandon, procedure_run_start, procedure_step_done
from operations.services.recovery import backup_verification_record, drill_record
from portal.accounts.permissions import role_required
from portal.accounts.roles import Role, has_role
from portal.core.models import Environment
from portal.core.pagination import paginate
from portal.errors import ApplicationError


@require_GET
def slo_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    statuses = slo_statuses(list(slos_queryset().order_by("name")), now=now)
    return render(request, "operations/slo_list.html", {"statuses": statuses, "rules": burn_rules(), "now": now})


@require_GET
def slo_detail(request: HttpRequest, slug: str) -> HttpResponse:
    now = timezone.now()
    status = slo_statuses([get_object_or_404(slos_queryset(), slug=slug)], now=now)[0]
    slo = status.slo
    chart = budget_chart_svg(
        points=slo_budget_history(slo=slo, now=now), allowed_seconds=status.budget.allowed_seconds, title=slo.name
    )
    context = {
        "status": status, "slo": slo, "chart": chart, "window_days": WINDOW.days,
        "alerts": burn_alerts().filter(slo=slo)[:20], "samples": slo.samples.select_related("recorded_by")[:20],
    }  # fmt: skip
    return render(request, "operations/slo_detail.html", context)


@require_GET
def runbook_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "operations/runbook_list.html", {"runbooks": runbooks_queryset(), "today": timezone.now().date()}
    )


@require_GET
def runbook_detail(request: HttpRequest, slug: str) -> HttpResponse:
    runbook = get_object_or_404(runbooks_queryset(), slug=slug)
    # Opened from an incident, the quick actions carry it, so the cluster action is linked to the incident.
    incident_id = request.GET.get("incident", "")
    incident = Incident.objects.filter(pk=incident_id).first() if incident_id.isdigit() else None
    actions = [(action, action.url(incident.pk if incident else None)) for action in runbook.quick_actions.all()]
    context = {"runbook": runbook, "incident": incident, "actions": actions, "today": timezone.now().date()}
    return render(request, "operations/runbook_detail.html", context)


@require_GET
def alert_catalogue(request: HttpRequest) -> HttpResponse:
    """The seeds' critical alerts, their key metrics' thresholds side by side, and the SLOs' burn-rate alerts."""
    rules = list(alert_rule_list())
    metrics: dict[str, list[AlertRule]] = {}
    for rule in rules:
        if not rule.is_critical_alert:
            metrics.setdefault(rule.metric, []).append(rule)
    context = {
        "critical": [rule for rule in rules if rule.is_critical_alert],
        "metrics": [(metric, sorted(found, key=lambda rule: -rule.severity.rank)) for metric, found in metrics.items()],
        "burn_rules": burn_rules(),
        "slos": slos_queryset().filter(active=True).order_by("name"),
    }
    return render(request, "operations/alert_catalogue.html", context)


@require_GET
@vary_on_headers("HX-Request")
def deployment_list(request: HttpRequest) -> HttpResponse:
    found = DeploymentFilter(request.GET, queryset=deployments_queryset())
    page, query = paginate(request, found.qs)
    template = "operations/deployment_list.html#deployment-table" if request.htmx else "operations/deployment_list.html"
    freeze = deploy_freeze(Environment.PRODUCTION, timezone.now())
    context = {"filter": found, "page": page, "query": query, "freeze": None if freeze.allowed else freeze}
    return render(request, template, context)


@require_GET
def deployment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = get_object_or_404(deployment_queryset(), pk=pk)
    context = {"deployment": deployment, "now": timezone.now(), "start_form": DeploymentStartForm()}
    return render(request, "operations/deployment_detail.html", context)


@require_POST
@role_required(Role.RESPONDER)
def deployment_start_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Start a planned deployment; refusals (open items, a freeze) come back on the page beside the form."""
    deployment = get_object_or_404(deployment_queryset(), pk=pk)
    form = DeploymentStartForm(request.POST)
    try:
        if not form.is_valid():
            raise ApplicationError("Check the form.", field=next(iter(form.errors), None))
        deployment_start(deployment=deployment, actor=request.user, **form.cleaned_data)
    except ApplicationError as exc:
        context = {"deployment": deployment, "now": timezone.now(), "start_form": form, "error": exc.message,
                   "open_items": exc.extra.get("open_items", [])}  # fmt: skip
        return render(request, "operations/deployment_detail.html", context, status=exc.status_code)
    return redirect("deployment-detail", pk=pk)


def _recovery_context(now: object, **extra: object) -> dict[str, object]:
    schedules = list(BackupSchedule.objects.all())
    return {
        "objectives": RecoveryObjective.objects.all(),
        "schedules": [(schedule, next_backup(schedule, after=now)) for schedule in schedules],
        "backups": backup_status(now=now, days=14),
        "plans": drill_plans(year=now.year),
        "drills": drill_records()[:20],
        "year": now.year,
        "verify_form": BackupVerificationForm(initial={"day": operations_day(now), "result": "ok"}),
        "drill_form": DrillRecordForm(),
        **extra,
    }


@require_GET
def recovery(request: HttpRequest) -> HttpResponse:
    return render(request, "operations/recovery.html", _recovery_context(timezone.now()))


def _record(request: HttpRequest, form_class: type, record: object, form_key: str, success: str) -> HttpResponse:
    form = form_class(request.POST)
    if form.is_valid():
        try:
            record(actor=request.user, **{k: v for k, v in form.cleaned_data.items() if v is not None})
        except ApplicationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, success)
            return redirect("recovery")
    return render(
        request, "operations/recovery.html", _recovery_context(timezone.now(), **{form_key: form}), status=400
    )


@require_POST
@role_required(Role.RESPONDER)
def backup_verify(request: HttpRequest) -> HttpResponse:
    return _record(
        request, BackupVerificationForm, backup_verification_record, "verify_form", "Backup verification recorded."
    )


@require_POST
@role_required(Role.RESPONDER)
def drill_record_view(request: HttpRequest) -> HttpResponse:
    return _record(request, DrillRecordForm, drill_record, "drill_form", "DR drill recorded.")


@require_GET
@vary_on_headers("HX-Request")
def checklist_list(request: HttpRequest) -> HttpResponse:
    data = request.GET.copy() if request.GET else {"open": "true"}
    found = ChecklistFilter(data, queryset=checklists_queryset().order_by("-period_start", "-created_at", "-pk"))
    page, query = paginate(request, found.qs)
    template = "operations/checklist_list.html#checklist-table" if request.htmx else "operations/checklist_list.html"
    return render(request, template, {"filter": found, "page": page, "query": query, "now": timezone.now()})


@require_GET
def checklist_detail(request: HttpRequest, pk: int) -> HttpResponse:
    checklist = get_object_or_404(checklist_queryset(), pk=pk)
    return render(request, "operations/checklist_detail.html", {"checklist": checklist, "now": timezone.now()})


@require_POST
def checklist_tick(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    if not has_role(request.user, Role.RESPONDER):
        raise PermissionDenied("Ticking checklists requires the Responder role.")
    item = get_object_or_404(ChecklistItem, pk=item_pk, checklist_id=pk)
    form = TickForm(request.POST)
    form.is_valid()  # a missing or unchecked box is "not done"
    checklist_item_set_done(item=item, done=form.cleaned_data.get("done", False), actor=request.user)
    if not request.htmx:
        return redirect("checklist-detail", pk=pk)
    checklist = checklist_queryset().get(pk=pk)
    return render(
        request, "operations/checklist_detail.html#checklist-card", {"checklist": checklist, "now": timezone.now()}
    )


# Procedures


@require_GET
def procedure_list(request: HttpRequest) -> HttpResponse:
    context = {
        "procedures": procedures_queryset(),
        "runs": procedure_runs_queryset()[:20],
        "form": ProcedureStartForm(initial={"kind": ProcedureRun.Kind.DRILL}),
        "now": timezone.now(),
    }
    return render(request, "operations/procedure_list.html", context)


@require_POST
@role_required(Role.RESPONDER)
def procedure_run_start_view(request: HttpRequest) -> HttpResponse:
    form = ProcedureStartForm(request.POST)
    if form.is_valid():
        try:
            run = procedure_run_start(actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            return redirect("procedure-run-detail", pk=run.pk)
    else:
        field, errors = next(iter(form.errors.items()))
        messages.error(request, f"{field.replace('_', ' ')}: {' '.join(errors)}")
    data = form.cleaned_data if form.is_valid() else {}
    if maintenance := data.get("maintenance"):
        return redirect("maintenance-occurrence", pk=maintenance.pk)
    incident = data.get("incident")
    return redirect("incident-detail", pk=incident.pk) if incident else redirect("procedure-list")


def _run_context(run_pk: int, **extra: object) -> dict[str, object]:
    run = get_object_or_404(procedure_runs_queryset(), pk=run_pk)
    steps = timed_steps(run)
    pending = [item.step.position for item in steps if item.step.done_at is None]
    return {
        "run": run, "steps": steps, "next_position": pending[0] if pending else None, "now": timezone.now(),
        "done_form": StepDoneForm(),
        "abandon_form": AbandonForm(), "drill_form": DrillFromRunForm(), **extra,
    }  # fmt: skip


@require_GET
def procedure_run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "operations/procedure_run.html", _run_context(pk))


def _run_write(
    request: HttpRequest, pk: int, form_class: type[forms.Form], write: Callable[..., object]
) -> HttpResponse:
    form = form_class(request.POST)
    if form.is_valid():
        try:
            write(run=get_object_or_404(ProcedureRun, pk=pk), actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            return redirect("procedure-run-detail", pk=pk)
    return render(request, "operations/procedure_run.html", _run_context(pk, error_form=form), status=400)


@require_POST
@role_required(Role.RESPONDER)
def procedure_step_done_view(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    return _run_write(request, pk, StepDoneForm, lambda **data: procedure_step_done(position=position, **data))


@require_POST
@role_required(Role.RESPONDER)
def procedure_run_abandon_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _run_write(request, pk, AbandonForm, procedure_run_abandon)


@require_POST
@role_required(Role.RESPONDER)
def procedure_run_record_drill(request: HttpRequest, pk: int) -> HttpResponse:
    return _run_write(request, pk, DrillFromRunForm, lambda run, **data: drill_record(procedure_run=run, **data))
