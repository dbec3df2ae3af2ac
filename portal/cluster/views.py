"""Action pages: the list with filters, the request form, a confirmation that says what will happen, and the run
itself with live progress. Every change goes through the services; htmx swaps the run in place."""

from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from portal.accounts.models import User
from portal.accounts.permissions import role_required
from portal.accounts.roles import Role, has_role
from portal.cluster import policy
from portal.cluster.actions import READ_ONLY, SPECS
from portal.cluster.filters import ActionRunFilter
from portal.cluster.forms import ActionRequestForm, CommentForm, LookForm, ResolveForm, prefill
from portal.cluster.looks import PARAMETER_NAMES as LOOK_PARAMETER_NAMES
from portal.cluster.models import ActionKind, ActionRun
from portal.cluster.selectors import action_run_detail, action_runs, action_table_rows, looks_list
from portal.cluster.services import (
    CANCELLABLE,
    action_run_approve,
    action_run_cancel,
    action_run_confirm,
    action_run_reject,
    action_run_request,
    action_run_resolve,
    look_request,
)
from portal.core.pagination import paginate
from portal.errors import ApplicationError

# What the before/after table shows, in this order, when the action recorded it.
STATE_KEYS = ("replicas", "revision", "images", "available_replicas", "unschedulable", "keys", "dead_rows", "size")
# Actions whose effect cannot be taken back by another action: the confirmation says so.
IRREVERSIBLE = frozenset(
    {
        ActionKind.REDIS_FLUSH,
        ActionKind.REDIS_DELETE_PATTERN,
        ActionKind.PG_TERMINATE_IDLE,
        ActionKind.PG_TERMINATE_BACKEND,
    }
)


@require_GET
@vary_on_headers("HX-Request")
def action_list(request: HttpRequest) -> HttpResponse:
    found = ActionRunFilter(request.GET, queryset=action_runs())
    page, query = paginate(request, found.qs, read=action_table_rows)
    template = "cluster/action_list.html#action-table" if request.htmx else "cluster/action_list.html"
    return render(request, template, {"filter": found, "page": page, "query": query})


@require_http_methods(["GET", "POST"])
@role_required(Role.RESPONDER)
@vary_on_headers("HX-Request")
def action_new(request: HttpRequest) -> HttpResponse:
    """GET (prefilled from the query, e.g. from an incident's quick actions) shows the chosen action's fields; POST
    records the request and goes on to its confirmation (read-only actions run at once)."""
    status = 200
    if request.method == "POST":
        form = ActionRequestForm(request.POST)
        status = 400
        if form.is_valid():
            read_only = form.cleaned_data["kind"] in READ_ONLY
            try:
                run = action_run_request(
                    requester=request.user,
                    target=form.cleaned_data["target"],
                    kind=form.cleaned_data["kind"],
                    parameters=form.parameters(),
                    reason=form.cleaned_data["reason"],
                    incident=form.cleaned_data["incident"],
                    emergency=form.cleaned_data["emergency"],
                    confirm=read_only,
                )
            except ApplicationError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = exc.status_code
            else:
                return redirect("action-detail" if read_only else "action-confirm", pk=run.pk)
    else:
        form = ActionRequestForm(initial=prefill(request.GET.dict()))
    template = "cluster/action_new.html#action-form" if request.htmx else "cluster/action_new.html"
    return render(request, template, {"form": form, "guidance": _guidance(form, request.user)}, status=status)


def _guidance(form: ActionRequestForm, user: User) -> policy.Guidance | None:
    run = form.draft(user)
    return policy.request_guidance(run, at=timezone.now()) if run is not None else None


@require_GET
@role_required(Role.RESPONDER)
def action_guidance(request: HttpRequest) -> HttpResponse:
    """The request form's guidance for the values in the query: redrawn when the namespace, the incident or the
    emergency flag changes (the environment's freeze, who must approve, a refusal to expect)."""
    form = ActionRequestForm(request.GET)
    return render(request, "cluster/action_new.html#action-guidance", {"guidance": _guidance(form, request.user)})


def _shown(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _detail_context(request: HttpRequest, run: ActionRun, **extra: object) -> dict[str, object]:
    user: User = request.user
    may_decide = run.status == ActionRun.Status.AWAITING_APPROVAL and (
        policy.approval_refusal(approver=user, run=run, at=timezone.now()) is None
    )
    return {
        "run": run,
        "spec": SPECS[ActionKind(run.kind)],
        "states": [
            (key, _shown(run.before.get(key)), _shown(run.after.get(key)))
            for key in STATE_KEYS
            if key in run.before or key in run.after
        ],
        "may_decide": may_decide,
        "may_cancel": run.status in CANCELLABLE
        and (user.pk == run.requested_by_id or has_role(user, Role.INCIDENT_COMMANDER)),
        "may_resolve": run.status == ActionRun.Status.ABANDONED and has_role(user, Role.INCIDENT_COMMANDER),
        "resolve_form": ResolveForm(),
        **extra,
    }


@require_GET
@vary_on_headers("HX-Request")
def action_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(action_run_detail(), pk=pk)
    template = "cluster/action_detail.html#run-body" if request.htmx else "cluster/action_detail.html"
    return render(request, template, _detail_context(request, run))


@sensitive_post_parameters("value")
@require_http_methods(["GET", "POST"])
@role_required(Role.RESPONDER)
def action_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """What will happen, exactly, before it does: the command, what was read from the target, who must approve."""
    run = get_object_or_404(action_run_detail(), pk=pk)
    if run.status != ActionRun.Status.REQUESTED:
        return redirect("action-detail", pk=pk)
    error, status = "", 200
    if request.method == "POST":
        try:
            action_run_confirm(run=run, actor=request.user, secret_value=request.POST.get("value", ""))
        except ApplicationError as exc:
            error, status = exc.message, exc.status_code
        else:
            return redirect("action-detail", pk=pk)
    context = {
        "run": run,
        "spec": SPECS[ActionKind(run.kind)],
        "irreversible": run.kind in IRREVERSIBLE,
        "guidance": (guidance := policy.request_guidance(run, at=timezone.now())),
        "refused": (refused := guidance.refusal),
        # A freeze began since the request: the way through it is a new request flagged as an emergency.
        "emergency_url": _request_again_url(run, emergency=True) if refused and refused.field == "emergency" else "",
        "is_requester": request.user.pk == run.requested_by_id,
        "asks_value": run.kind == ActionKind.SECRET_SET and not run.parameters.get("generate"),
        "error": error,
    }
    return render(request, "cluster/action_confirm.html", context, status=status)


def _request_again_url(run: ActionRun, **changes: object) -> str:
    """The request form, prefilled with `run`'s target, action, parameters, reason and incident, and `changes`."""
    values = {"target": run.target.slug, "kind": run.kind, "reason": run.reason, **run.parameters, **changes}
    if run.incident_id is not None:
        values["incident"] = run.incident_id
    query = {name: ("1" if value is True else value) for name, value in values.items() if value not in (None, False)}
    return f"{reverse('action-new')}?{urlencode(query)}"


@require_POST
@role_required(Role.RESPONDER)
def action_act(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    """Approve, reject, cancel or close an abandoned run; htmx gets the run's body back, with the refusal if any."""
    run = get_object_or_404(ActionRun, pk=pk)
    form = CommentForm(request.POST)
    error, status = "", 200
    try:
        if verb == "resolve":
            resolution = ResolveForm(request.POST)
            if not resolution.is_valid():
                field, messages = next(iter(resolution.errors.items()))
                raise ApplicationError(f"{field}: {' '.join(messages)}", field=field)
            action_run_resolve(run=run, actor=request.user, **resolution.cleaned_data)
        elif not form.is_valid():
            raise ApplicationError(f"comment: {' '.join(form.errors['comment'])}", field="comment")
        elif verb == "approve":
            action_run_approve(run=run, approver=request.user, comment=form.cleaned_data["comment"])
        elif verb == "reject":
            action_run_reject(run=run, approver=request.user, comment=form.cleaned_data["comment"])
        elif verb == "cancel":
            action_run_cancel(run=run, actor=request.user)
        else:
            raise PermissionDenied(f"Unknown action {verb!r}.")
    except ApplicationError as exc:
        error, status = exc.message, exc.status_code
    if not request.htmx:
        return redirect("action-detail", pk=pk) if not error else HttpResponse(error, status=status)
    run = get_object_or_404(action_run_detail(), pk=pk)
    return render(
        request, "cluster/action_detail.html#run-body", _detail_context(request, run, error=error), status=status
    )


@require_POST
@role_required(Role.RESPONDER)
def look_new(request: HttpRequest) -> HttpResponse:
    """Ask a worker for a look; htmx gets the look back (it polls itself until fetched), others its page."""
    form = LookForm(request.POST)
    try:
        if not form.is_valid():
            field, messages = next(iter(form.errors.items()))
            raise ApplicationError(f"{field}: {' '.join(messages)}", field=field)
        parameters = {name: request.POST[name] for name in LOOK_PARAMETER_NAMES if request.POST.get(name, "") != ""}
        look = look_request(
            requester=request.user,
            target=form.cleaned_data["target"],
            kind=form.cleaned_data["kind"],
            parameters=parameters,
            incident=form.cleaned_data["incident"],
        )
    except ApplicationError as exc:
        return render(request, "cluster/look_detail.html#look-error", {"error": exc.message}, status=exc.status_code)
    if not request.htmx:
        return redirect("look-detail", pk=look.pk)
    return render(request, "cluster/look_detail.html#look-body", {"look": looks_list().get(pk=look.pk)}, status=201)


@require_GET
@vary_on_headers("HX-Request")
def look_detail(request: HttpRequest, pk: int) -> HttpResponse:
    look = get_object_or_404(looks_list(), pk=pk)
    template = "cluster/look_detail.html#look-body" if request.htmx else "cluster/look_detail.html"
    return render(request, template, {"look": look})
