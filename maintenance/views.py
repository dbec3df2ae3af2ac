"""Maintenance and freeze pages: the month calendar, windows, occurrences with htmx checklists, the freeze calendar
with exceptions, and the public status page. Every change goes through the services."""

import calendar
from datetime import UTC, date, datetime, timedelta

from django import forms
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from incidents.selectors import open_incidents_brief
from maintenance import policy, selectors
from maintenance.api.views import feed_key
from maintenance.forms import (
    DecisionForm,
    EmergencyForm,
    ExceptionForm,
    FreezeForm,
    FrozenCheckForm,
    MaterializeForm,
    MonthForm,
    RescheduleForm,
    StatusSubscribeForm,
    TickForm,
    TransitionForm,
    WindowEditForm,
    WindowForm,
)
from maintenance.models import ChecklistItem, FreezeException, MaintenanceOccurrence, MaintenanceWindow
from maintenance.services import (
    EMERGENCY_PROCEDURE,
    checklist_item_tick,
    freeze_exception_decide,
    freeze_exception_request,
    freeze_rule_create,
    occurrence_materialize,
    occurrence_reschedule,
    occurrence_transition,
    window_create,
    window_create_emergency,
    window_update,
)
from portal.accounts.permissions import role_required
from portal.accounts.roles import Role, has_role
from portal.core.api.throttling import SubscribeRateThrottle
from portal.errors import ApplicationError
from portal.notifications.services import (
    status_subscription_cancel,
    status_subscription_confirm,
    status_subscription_request,
)
from portal.notifications.status_links import confirm_token_data, unsubscribe_token_pk

Status = MaintenanceOccurrence.Status


# The recurrence picker's weekdays: RFC 5545 codes and names.
WEEKDAYS = [("MO", "Monday"), ("TU", "Tuesday"), ("WE", "Wednesday"), ("TH", "Thursday"), ("FR", "Friday"),
            ("SA", "Saturday"), ("SU", "Sunday")]  # fmt: skip


def _form_error(form: forms.Form) -> ApplicationError:
    field, messages = next(iter(form.errors.items()))
    return ApplicationError(f"{field.replace('_', ' ')}: {' '.join(messages)}", field=field)


def _valid(form: forms.Form) -> dict:
    if not form.is_valid():
        raise _form_error(form)
    return form.cleaned_data


def _refused(form: forms.Form, exc: ApplicationError) -> None:
    """A service's refusal, beside its field; a form's own errors (raised by `_valid`) are on it already."""
    if form.is_valid():
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _month_start(day: date) -> datetime:
    return datetime(day.year, day.month, 1, tzinfo=UTC)


@require_GET
def maintenance_calendar(request: HttpRequest) -> HttpResponse:
    """A month of maintenance and freezes together (UTC days)."""
    now = timezone.now()
    form = MonthForm(request.GET)
    if not form.is_valid():
        return render(request, "maintenance/calendar.html", {"error": _form_error(form).message}, status=400)
    first = _month_start(form.cleaned_data["month"] or now.date())
    weeks = calendar.Calendar().monthdatescalendar(first.year, first.month)
    start = datetime.combine(weeks[0][0], datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(weeks[-1][-1] + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    entries = selectors.calendar_entries(start=start, end=end)
    periods = selectors.freeze_periods(start=start, end=end)
    grid = [
        [
            {
                "day": day,
                "in_month": day.month == first.month,
                "today": day == now.date(),
                "entries": [e for e in entries if e.start.date() <= day <= (e.end - timedelta(microseconds=1)).date()],
                "freezes": [p for p in periods if p.first_day <= day <= p.last_day],
            }
            for day in week
        ]
        for week in weeks
    ]
    previous = (first - timedelta(days=1)).strftime("%Y-%m")
    following = (first + timedelta(days=32)).strftime("%Y-%m")
    feed = request.build_absolute_uri(reverse("api:maintenance-feed")) + f"?key={feed_key(request.user)}"
    context = {
        "month": first,
        "grid": grid,
        "previous": previous,
        "following": following,
        "windows": selectors.window_list().filter(active=True).exclude(kind=MaintenanceWindow.Kind.EMERGENCY),
        "feed_url": feed,
    }
    return render(request, "maintenance/calendar.html", context)


@require_http_methods(["GET", "POST"])
@role_required(Role.ADMIN)
def window_create_view(request: HttpRequest) -> HttpResponse:
    form = WindowForm(request.POST or None)
    if request.method == "POST":
        try:
            data = _valid(form)
            window = window_create(
                actor=request.user,
                name=data["name"],
                kind=data["kind"],
                services=data["services"],
                owner=data["owner"],
                expected_impact=data["expected_impact"],
                description=data["description"],
                environment=data["environment"],
                starts_at=data["starts_at"],
                rrule=data["rrule"],
                dtstart=data["dtstart"],
                start_time=data["start_time"],
                zone=data["zone"],
                duration=timedelta(minutes=data["duration_minutes"]),
                notice_lead=timedelta(hours=data["notice_hours"]),
            )
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            return redirect("maintenance-window", pk=window.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "title": "New maintenance window", "button": "Create window", "weekdays": WEEKDAYS}
    return render(request, "maintenance/window_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@role_required(Role.INCIDENT_COMMANDER)
def emergency_view(request: HttpRequest) -> HttpResponse:
    form = EmergencyForm(request.POST or None)
    if request.method == "POST":
        try:
            data = _valid(form)
            occurrence = window_create_emergency(
                actor=request.user,
                name=data["name"],
                services=data["services"],
                expected_impact=data["expected_impact"],
                duration=timedelta(minutes=data["duration_minutes"]),
                incident=data["incident"],
            )
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            return redirect("maintenance-occurrence", pk=occurrence.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "title": "Emergency maintenance", "button": "Start now and notify"}
    return render(request, "maintenance/window_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
def window_detail(request: HttpRequest, pk: int) -> HttpResponse:
    window = get_object_or_404(selectors.window_list(), pk=pk)
    initial = {
        "name": window.name,
        "owner": window.owner.username if window.owner else None,
        "services": [s.slug for s in window.services.all()],
        "expected_impact": window.expected_impact,
        "active": window.active,
    }
    form = WindowEditForm(initial=initial)
    error, status = "", 200
    if request.method == "POST":
        if not has_role(request.user, Role.ADMIN):
            raise PermissionDenied("Editing a window requires the Admin role.")
        form = WindowEditForm(request.POST)
        try:
            window_update(window=window, actor=request.user, **_valid(form))
        except ApplicationError as exc:
            error, status = exc.message, exc.status_code
        else:
            return redirect("maintenance-window", pk=pk)
    now = timezone.now()
    entries = selectors.calendar_entries(start=now - timedelta(days=1), end=now + timedelta(days=62), windows=[window])
    context = {
        "window": window,
        "entries": entries,
        "warnings": selectors.window_conflicts(window=window, now=now),
        "past": window.occurrences.filter(ends_at__lte=now).select_related("owner").order_by("-starts_at")[:10],
        "form": form,
        "error": error,
    }
    return render(request, "maintenance/window_detail.html", context, status=status)


@require_POST
@role_required(Role.INCIDENT_COMMANDER)
def window_materialize(request: HttpRequest, pk: int) -> HttpResponse:
    window = get_object_or_404(MaintenanceWindow, pk=pk)
    try:
        occurrence = occurrence_materialize(window=window, actor=request.user, **_valid(MaterializeForm(request.POST)))
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=exc.status_code)
    return redirect("maintenance-occurrence", pk=occurrence.pk)


def _occurrence_context(occurrence: MaintenanceOccurrence, **extra: object) -> dict[str, object]:
    phases = {phase: [] for phase in ChecklistItem.Phase}
    for item in occurrence.checklist.all():
        phases[ChecklistItem.Phase(item.phase)].append(item)
    return {
        "occurrence": occurrence,
        "allowed": [Status(status) for status in policy.allowed_transitions(occurrence)],
        "reschedulable": occurrence.status in policy.RESCHEDULABLE,
        "phases": [(phase.label, items) for phase, items in phases.items()],
        "warnings": selectors.occurrence_conflicts(occurrence=occurrence),
        "reschedule_form": RescheduleForm(initial={"starts_at": occurrence.starts_at, "ends_at": occurrence.ends_at}),
        # Emergency maintenance declared without an incident offers its procedure for one.
        "procedure_incidents": open_incidents_brief()
        if occurrence.window.kind == MaintenanceWindow.Kind.EMERGENCY and occurrence.is_open
        else None,
        "emergency_procedure": EMERGENCY_PROCEDURE,
        **extra,
    }


@require_GET
@vary_on_headers("HX-Request")
def occurrence_detail(request: HttpRequest, pk: int) -> HttpResponse:
    occurrence = get_object_or_404(selectors.occurrence_detail(), pk=pk)
    template = "maintenance/occurrence_detail.html"
    return render(request, template + "#occurrence-body" if request.htmx else template, _occurrence_context(occurrence))


@require_POST
def occurrence_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Transition or reschedule (Incident Commanders); htmx gets the occurrence's body back."""
    if action not in {"transition", "reschedule"}:
        raise PermissionDenied(f"Unknown action {action!r}.")
    if not has_role(request.user, Role.INCIDENT_COMMANDER):
        raise PermissionDenied("Running maintenance requires the Incident Commander role.")
    occurrence = get_object_or_404(MaintenanceOccurrence, pk=pk)
    error, status = "", 200
    try:
        if action == "transition":
            occurrence_transition(occurrence=occurrence, actor=request.user, **_valid(TransitionForm(request.POST)))
        else:
            occurrence_reschedule(occurrence=occurrence, actor=request.user, **_valid(RescheduleForm(request.POST)))
    except ApplicationError as exc:
        error, status = exc.message, exc.status_code
    if not request.htmx:
        return redirect("maintenance-occurrence", pk=pk) if not error else HttpResponse(error, status=status)
    occurrence = get_object_or_404(selectors.occurrence_detail(), pk=pk)
    context = _occurrence_context(occurrence, error=error)
    return render(request, "maintenance/occurrence_detail.html#occurrence-body", context, status=status)


@require_POST
@role_required(Role.RESPONDER)
def checklist_tick(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    """Tick or untick one line; htmx swaps just that line."""
    item = get_object_or_404(ChecklistItem.objects.select_related("occurrence"), pk=item_pk, occurrence_id=pk)
    error, status = "", 200
    try:
        item = checklist_item_tick(item=item, actor=request.user, **_valid(TickForm(request.POST)))
    except ApplicationError as exc:
        error, status = exc.message, exc.status_code
    if not request.htmx:
        return redirect("maintenance-occurrence", pk=pk) if not error else HttpResponse(error, status=status)
    item = ChecklistItem.objects.select_related("done_by", "occurrence").get(pk=item.pk)
    return render(
        request, "maintenance/occurrence_detail.html#checklist-item", {"item": item, "error": error}, status=status
    )


# Freezes


def _freeze_context(*, show_past: bool = False, **extra: object) -> dict[str, object]:
    now = timezone.now()
    year_start = datetime(now.year, 1, 1, tzinfo=UTC)
    periods = selectors.freeze_periods(start=year_start, end=datetime(now.year + 2, 1, 1, tzinfo=UTC))
    return {
        "now_status": policy.freeze_status("production", now),
        "periods": periods if show_past else [period for period in periods if period.span.end > now],
        "show_past": show_past,
        "check_form": extra.pop("check_form", FrozenCheckForm(initial={"at": now.strftime("%Y-%m-%dT%H:%M")})),
        "rules": policy.active_rules(),
        "exceptions": selectors.exception_list()[:50],
        "passes": selectors.freeze_pass_list()[:50],
        "level_rules": list(policy.LEVEL_RULES.items()),
        "freeze_form": extra.pop("freeze_form", FreezeForm()),
        "exception_form": extra.pop("exception_form", ExceptionForm()),
        **extra,
    }


@require_GET
def freeze_calendar(request: HttpRequest) -> HttpResponse:
    """The freeze calendar (future periods unless ?past=1), and the answer of "Is it frozen?" when asked."""
    show_past = request.GET.get("past") == "1"
    if "environment" not in request.GET:
        return render(request, "maintenance/freezes.html", _freeze_context(show_past=show_past))
    form = FrozenCheckForm(request.GET)
    if not form.is_valid():
        context = _freeze_context(show_past=show_past, check_form=form, error=_form_error(form).message)
        return render(request, "maintenance/freezes.html", context, status=400)
    answer = policy.freeze_status(form.cleaned_data["environment"], form.cleaned_data["at"])
    context = _freeze_context(show_past=show_past, check_form=form, answer=answer, asked=form.cleaned_data)
    return render(request, "maintenance/freezes.html", context)


@require_POST
@role_required(Role.ADMIN)
def freeze_add(request: HttpRequest) -> HttpResponse:
    form = FreezeForm(request.POST)
    try:
        freeze_rule_create(actor=request.user, kind="one_off", **_valid(form))
    except ApplicationError as exc:
        _refused(form, exc)
        return render(request, "maintenance/freezes.html", _freeze_context(freeze_form=form), status=400)
    return redirect("freeze-calendar")


@require_POST
@role_required(Role.RESPONDER)
def exception_request(request: HttpRequest) -> HttpResponse:
    form = ExceptionForm(request.POST)
    try:
        freeze_exception_request(actor=request.user, **_valid(form))
    except ApplicationError as exc:
        _refused(form, exc)
        context = _freeze_context(exception_form=form)
        return render(request, "maintenance/freezes.html", context, status=400)
    return redirect("freeze-calendar")


@require_POST
@role_required(Role.INCIDENT_COMMANDER)
def exception_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    if decision not in {"approve", "reject"}:
        raise PermissionDenied(f"Unknown decision {decision!r}.")
    exception = get_object_or_404(FreezeException, pk=pk)
    try:
        freeze_exception_decide(
            exception=exception, approve=decision == "approve", actor=request.user, **_valid(DecisionForm(request.POST))
        )
    except ApplicationError as exc:
        return render(request, "maintenance/freezes.html", _freeze_context(error=exc.message), status=exc.status_code)
    return redirect("freeze-calendar")


# Public


def _status_context(*, subscribe_form: StatusSubscribeForm | None = None, **extra: object) -> dict[str, object]:
    page = selectors.status_page(now=timezone.now())
    form = subscribe_form or StatusSubscribeForm()
    # Its checkboxes are the page's services, already read (validation still asks the database).
    form.fields["services"].choices = [(row.service.slug, str(row.service)) for row in page.services]
    return {"page": page, "subscribe_form": form, "uptime_days": selectors.UPTIME_DAYS, **extra}


@login_not_required
@require_GET
def status_page(request: HttpRequest) -> HttpResponse:
    """The public status page: no login, public incidents and their public updates only."""
    return render(request, "maintenance/status_page.html", _status_context())


@login_not_required
@require_POST
def status_subscribe(request: HttpRequest) -> HttpResponse:
    """Email a confirmation link; throttled per address like the API's subscribe endpoint."""
    throttle = SubscribeRateThrottle()
    if not throttle.allow_request(request, None):  # type: ignore[arg-type]
        context = _status_context(subscribe_error="Too many subscription requests from your address; try again later.")
        response = render(request, "maintenance/status_page.html", context, status=429)
        response["Retry-After"] = str(int(throttle.wait()))
        return response
    form = StatusSubscribeForm(request.POST)
    try:
        if not form.is_valid():
            raise _form_error(form)
        status_subscription_request(email=form.cleaned_data["email"], services=form.cleaned_data["services"])
    except ApplicationError as exc:
        context = _status_context(subscribe_form=form, subscribe_error=exc.message)
        return render(request, "maintenance/status_page.html", context, status=exc.status_code)
    email = form.cleaned_data["email"]
    return render(request, "maintenance/status_page.html", _status_context(subscribe_sent=email))


@login_not_required
@require_http_methods(["GET", "POST"])
def status_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks, POST confirms: mail scanners that open links must not subscribe anyone."""
    return _status_link(request, token, action="confirm")


@login_not_required
@require_http_methods(["GET", "POST"])
def status_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    return _status_link(request, token, action="unsubscribe")


def _status_link(request: HttpRequest, token: str, *, action: str) -> HttpResponse:
    context: dict[str, object] = {"action": action, "token": token}
    status = 200
    try:
        # Read on GET too: a bad link says so at once instead of offering a button that can only fail.
        if action == "confirm":
            confirm_token_data(token)
        else:
            unsubscribe_token_pk(token)
        if request.method == "POST":
            if action == "confirm":
                context["subscription"] = status_subscription_confirm(token=token)
            else:
                status_subscription_cancel(token=token)
            context["done"] = True
    except ApplicationError as exc:
        context["error"], status = exc.message, exc.status_code
    return render(request, "maintenance/status_subscription.html", context, status=status)
