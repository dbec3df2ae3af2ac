"""Incident pages for commanders. Actions post through htmx and swap the incident's body in place."""

from collections.abc import Callable

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from contacts.selectors import incident_contacts
from incidents import policy
from incidents.alert_selectors import incident_alerts
from incidents.escalation import incident_escalate
from incidents.filters import IncidentFilter
from incidents.forms import (
    ActionItemForm,
    AssignForm,
    DeclareForm,
    DetailsForm,
    EscalateForm,
    FlagForm,
    NewActionItemForm,
    NoteForm,
    ReviewForm,
    RoleForm,
    SeverityForm,
    StatusUpdateForm,
    TransitionForm,
    VersionForm,
)
from incidents.models import ActionItem, EscalationLevel, Incident, PostIncidentReview, Severity, StatusUpdate
from incidents.selectors import incident_detail as detail_queryset
from incidents.selectors import incident_live_token, incident_table_rows, live_token, owner_team, review_detail
from incidents.services import (
    incident_acknowledge,
    incident_add_note,
    incident_assign,
    incident_assign_role,
    incident_change_severity,
    incident_declare,
    incident_flag,
    incident_post_update,
    incident_transition,
    incident_update_details,
    review_for,
    review_save,
    status_update_preview,
)
from operations.forms import ProcedureStartForm
from operations.selectors.deployments import recent_changes
from operations.selectors.procedures import incident_procedure_runs
from operations.selectors.runbooks import runbooks_for_incident
from portal.accounts.permissions import role_required
from portal.accounts.roles import Role, has_role
from portal.accounts.selectors import holder_choices
from portal.cluster.selectors import latest_action_runs, latest_looks, workloads_of
from portal.core.forms import share_choices
from portal.core.pagination import paginate
from portal.errors import ApplicationError
from portal.text import duration_words

ALERTS_SHOWN = 50  # on an incident's page; the API lists all of them
PREVIEWED = ("label", "description", "impact", "next_update_minutes")  # the update form's fields the preview shows


@require_GET
def severity_list(request: HttpRequest) -> HttpResponse:
    """The severities in force, with both seeds' response times where they disagree, and the escalation clocks."""
    levels = EscalationLevel.objects.filter(policy__is_default=True, after_minutes__isnull=False).order_by("level")
    rows = [
        {
            "severity": severity,
            "seeds": policy.SEED_RESPONSE_TIMES.get(severity.code),
            "routing_label": policy.MANUAL_ROUTING_LABELS.get(severity.notification_severity),
            "resolve": duration_words(severity.resolution_minutes),
            "escalation": [
                (level, duration_words(level.after_minutes * severity.escalation_factor)) for level in levels
            ],
        }
        for severity in Severity.objects.all()
    ]
    return render(request, "incidents/severities.html", {"rows": rows})


@require_GET
@vary_on_headers("HX-Request")
def incident_list(request: HttpRequest) -> HttpResponse:
    data = request.GET.copy() if request.GET else {"open": "true"}
    found = IncidentFilter(data, queryset=Incident.objects.all())
    page, query = paginate(request, found.qs, read=incident_table_rows)
    context = {"filter": found, "page": page, "query": query, "now": timezone.now()}
    template = "incidents/incident_list.html#incident-table" if request.htmx else "incidents/incident_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@role_required(Role.RESPONDER)
def incident_declare_view(request: HttpRequest) -> HttpResponse:
    form = DeclareForm(request.POST or None, initial={"severity": "P3"})
    if request.method == "POST" and form.is_valid():
        try:
            incident = incident_declare(reporter=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return redirect("incident-detail", pk=incident.pk)
    status = 400 if request.method == "POST" else 200
    targets = [policy.targets_summary(severity) for severity in Severity.objects.all()]
    return render(request, "incidents/incident_declare.html", {"form": form, "targets": targets}, status=status)


def _detail_context(request: HttpRequest, incident: Incident, **extra: object) -> dict[str, object]:
    now = timezone.now()
    # The forms a page may not show (a closed incident's, a viewer's) are built when the template first uses them.
    update_form = SimpleLazyObject(lambda: StatusUpdateForm.prefilled(incident, request.user))
    assign_form = AssignForm.for_incident(incident)
    role_forms = [RoleForm.for_incident(incident, role) for role in Incident.Role.values[1:]]
    pickers = [assign_form.fields["commander"], *(form.fields["user"] for form in role_forms)]
    share_choices(pickers, holder_choices(Role.RESPONDER))  # responder_field's queryset, kept
    alerts = incident_alerts(incident, limit=ALERTS_SHOWN)  # first: all of them name the runbooks and the owner
    return {
        "incident": incident,
        "now": now,
        "runbooks": runbooks_for_incident(incident),
        "contacts": incident_contacts(incident),
        "procedure_runs": incident_procedure_runs(incident) if incident.has_procedure_runs else (),
        "action_runs": latest_action_runs(incident, limit=5) if incident.has_action_runs else [],
        "looks": latest_looks(incident, limit=5) if incident.has_looks else [],
        "procedure_form": SimpleLazyObject(
            lambda: ProcedureStartForm(initial={"kind": "incident", "incident": incident.pk})
        ),
        "recent_changes": recent_changes(incident, now=now) if incident.may_have_recent_changes else (),
        "allowed": [Incident.Status(status) for status in policy.allowed_transitions(incident)],
        "update_form": update_form,
        "update_preview": SimpleLazyObject(
            lambda: status_update_preview(incident=incident, **{key: update_form.initial[key] for key in PREVIEWED})
        ),
        "public": SimpleLazyObject(lambda: update_form.initial["is_public"]),
        "note_form": SimpleLazyObject(NoteForm),
        "severity_form": SimpleLazyObject(lambda: SeverityForm(initial={"severity": incident.severity.code})),
        "assign_form": assign_form,
        "details_form": SimpleLazyObject(lambda: DetailsForm.for_incident(incident)),
        "role_forms": role_forms,
        "flag_form": SimpleLazyObject(FlagForm),
        "live_token": live_token(
            version=incident.version, newest_event=max((event.pk for event in incident.timeline.all()), default=None)
        ),
        "incident_workloads": workloads_of(incident),  # the Actions and Investigate cards' (cluster_tags)
        "alerts": alerts,
        "alert_group": getattr(incident, "alert_group", None),  # selected with the incident
        "owner_team": owner_team(incident),
        **extra,
    }


@require_GET
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(detail_queryset(), pk=pk)
    template = "incidents/incident_detail.html#incident-body" if request.htmx else "incidents/incident_detail.html"
    return render(request, template, _detail_context(request, incident))


@require_GET
def incident_live(request: HttpRequest, pk: int) -> HttpResponse:
    """The open page polls this with the token it shows: 204 while nothing changed (one query besides the session's),
    else the page's body, fresh."""
    token = incident_live_token(pk=pk)
    if token is None:
        raise Http404("No such incident.")
    if request.GET.get("since") == token:
        return HttpResponse(status=204)
    incident = get_object_or_404(detail_queryset(), pk=pk)
    return render(request, "incidents/incident_detail.html#incident-body", _detail_context(request, incident))


# Each action: the role it needs, its form, and the service call.
ACTIONS: dict[str, tuple[Role, type[forms.Form], Callable[..., object]]] = {
    "acknowledge": (Role.RESPONDER, VersionForm, lambda incident, actor, **data: incident_acknowledge(
        incident=incident, actor=actor, **data)),
    "update": (Role.RESPONDER, StatusUpdateForm, lambda incident, actor, **data: incident_post_update(
        incident=incident, actor=actor, **data)),
    "note": (Role.RESPONDER, NoteForm, lambda incident, actor, **data: incident_add_note(
        incident=incident, actor=actor, **data)),
    "flag": (Role.RESPONDER, FlagForm, lambda incident, actor, **data: incident_flag(
        incident=incident, actor=actor, **data)),
    "transition": (Role.INCIDENT_COMMANDER, TransitionForm, lambda incident, actor, **data: incident_transition(
        incident=incident, actor=actor, **data)),
    "severity": (Role.INCIDENT_COMMANDER, SeverityForm, lambda incident, actor, **data: incident_change_severity(
        incident=incident, actor=actor, **data)),
    "assign": (Role.INCIDENT_COMMANDER, AssignForm, lambda incident, actor, **data: incident_assign(
        incident=incident, actor=actor, **data)),
    "role": (Role.INCIDENT_COMMANDER, RoleForm, lambda incident, actor, **data: incident_assign_role(
        incident=incident, actor=actor, **data)),
    "details": (Role.INCIDENT_COMMANDER, DetailsForm, lambda incident, actor, **data: incident_update_details(
        incident=incident, actor=actor, **data)),
    "escalate": (Role.INCIDENT_COMMANDER, EscalateForm, lambda incident, actor, **data: incident_escalate(
        incident=incident, actor=actor, **data)),
}  # fmt: skip


@require_POST
def incident_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise PermissionDenied(f"Unknown action {action!r}.")
    role, form_class, perform = ACTIONS[action]
    if not has_role(request.user, role):
        raise PermissionDenied(f"This requires the {role.value} role.")
    incident = get_object_or_404(Incident, pk=pk)
    form = form_class(request.POST)
    if isinstance(form, StatusUpdateForm):
        form.for_incident(incident)
    error, status, confirm_resolve, final_update = "", 200, "", None
    if not form.is_valid():
        field, messages = next(iter(form.errors.items()))
        error, status = f"{field.replace('_', ' ')}: {' '.join(messages)}", 400
    else:
        data = {key: value for key, value in form.cleaned_data.items() if value is not None or key != "version"}
        try:
            perform(incident, request.user, **data)
        except ApplicationError as exc:
            # Not refusals but the next step, asked for in a card of its own (which a 4xx would not show):
            # confirming an early resolve, or writing the final public update.
            if exc.field == "confirm":
                confirm_resolve = exc.message
            elif exc.field == "final_update":
                final_update = {"message": exc.message, "confirm": data.get("confirm", False),
                                "draft": data.get("final_update") or exc.extra.get("draft", "")}  # fmt: skip
            else:
                error, status = exc.message, exc.status_code
    if not request.htmx and final_update is None and not confirm_resolve:
        return redirect("incident-detail", pk=pk) if not error else HttpResponse(error, status=status)
    incident = get_object_or_404(detail_queryset(), pk=pk)
    context = _detail_context(request, incident, error=error)
    context["confirm_resolve"] = confirm_resolve
    if final_update is not None:
        context["final_update"], context["public"] = final_update, True
        context["update_preview"] = status_update_preview(
            incident=incident, label=StatusUpdate.Label.RESOLVED, description=str(final_update["draft"])
        )
    if error and action == "update":
        context["update_form"] = form  # keep what they typed
    if error and action == "details":
        context["details_form"] = form
    template = "incidents/incident_detail.html#incident-body" if request.htmx else "incidents/incident_detail.html"
    return render(request, template, context, status=status)


@require_GET
@role_required(Role.RESPONDER)
def incident_update_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """What the status page will show for the update being written (the form's fields as query parameters)."""
    incident = get_object_or_404(Incident.objects.select_related("severity").prefetch_related("services"), pk=pk)
    query = request.GET.copy()
    query.setdefault("description", query.get("final_update", ""))  # the final update's text, when resolving
    form = StatusUpdateForm(query)
    form.for_incident(incident)
    form.is_valid()  # a half-written update still previews: the fields that are valid
    data = form.cleaned_data
    update = status_update_preview(
        incident=incident,
        label=data.get("label") or StatusUpdate.Label.INVESTIGATING,
        description=data.get("description", ""),
        impact=data.get("impact") or "",
        next_update_minutes=data.get("next_update_minutes"),
    )
    context = {"update_preview": update, "public": data.get("is_public", False), "incident": incident}
    return render(request, "incidents/incident_detail.html#update-preview", context)


def _first_error(form: forms.Form, what: str = "") -> ApplicationError:
    field, messages = next(iter(form.errors.items()))
    name = form.fields[field].label or field.replace("_", " ") if field in form.fields else field
    return ApplicationError(f"{what}{str(name).lower()}: {' '.join(messages)}", field=field)


@require_http_methods(["GET", "POST"])
def incident_review(request: HttpRequest, pk: int) -> HttpResponse:
    """The review page is one form: every button sends the draft and the action items as typed, so adding an item,
    closing one or publishing never loses text written elsewhere on the page."""
    incident = get_object_or_404(Incident, pk=pk)
    try:
        review = review_for(incident=incident)
    except ApplicationError as exc:
        return render(request, "incidents/review.html", {"incident": incident, "error": exc.message}, status=400)
    may_edit = has_role(request.user, Role.INCIDENT_COMMANDER)
    may_track = has_role(request.user, Role.RESPONDER)
    data = request.POST if request.method == "POST" else None
    action = request.POST.get("action", "save")
    error, status = "", 200
    if data is not None and not may_track:
        raise PermissionDenied("Editing a review requires the Responder role.")
    writes = action in {"add-item", "publish"} or bool(set(ReviewForm.SECTIONS) & set(data or {}))
    if data is not None and not may_edit and writes:
        raise PermissionDenied("Writing or publishing a review requires the Incident Commander role.")
    review = review_detail().get(pk=review.pk)
    published = review.status == PostIncidentReview.Status.PUBLISHED
    form = ReviewForm(data, initial={f: getattr(review, f) for f in ReviewForm.SECTIONS})
    items = [
        ActionItemForm(data if data and f"item-{item.pk}-status" in data else None, item=item,
                       tracking_only=not may_edit, title_frozen=published)
        for item in review.action_items.all()
    ]  # fmt: skip
    adding = action == "add-item"
    new_item = NewActionItemForm(data if adding else None, prefix="new")
    if data is not None:
        try:
            if not form.is_valid():
                raise _first_error(form)
            item_changes = {}
            for item_form in items:
                if item_form.is_bound and not item_form.is_valid():
                    raise _first_error(item_form, f"Action item “{item_form.item.title}”, ")
                changes = item_form.changes() if item_form.is_bound else {}
                if action == f"close-{item_form.item.pk}":
                    changes["status"] = ActionItem.Status.DONE
                if changes:
                    item_changes[item_form.item.pk] = changes
            if adding and not new_item.is_valid():
                raise _first_error(new_item, "New action item, ")
            review_save(
                review=review,
                actor=request.user,
                version=form.cleaned_data["version"],
                draft={f: form.cleaned_data[f] for f in ReviewForm.SECTIONS if f in data} if may_edit else None,
                item_changes=item_changes,
                new_item=new_item.cleaned_data if adding else None,
                publish=action == "publish",
            )
        except ApplicationError as exc:
            error, status = exc.message, exc.status_code
            review = review_detail().get(pk=review.pk)  # the latest version: saving again applies what was typed
            if not adding:  # keep a half-typed new item without complaining about it
                new_item = NewActionItemForm(initial={k: data.get(f"new-{k}") for k in new_item.fields}, prefix="new")
        else:
            return redirect("incident-review", pk=pk)
    context = {"incident": incident, "review": review, "form": form, "items": items, "new_item": new_item,
               "error": error, "may_track": may_track}  # fmt: skip
    return render(request, "incidents/review.html", context, status=status)
