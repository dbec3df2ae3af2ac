"""On-call pages: rotations with who is on call, the week and month schedule, overrides, swaps, handoff
checklists and calendar feeds. Actions post through htmx and swap the rotation's body in place."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django import forms
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from oncall import policy
from oncall.calendar import feed_calendar
from oncall.forms import OverrideForm, RotationForm, SwapForm
from oncall.models import CalendarFeed, Handoff, HandoffItem, Layer, Override, Rotation, Swap
from oncall.schedule import LAYERS, Segment, joined, takeovers
from oncall.selectors import (
    RotationSchedule,
    calendar_feed_by_token,
    handoff_detail,
    handoff_list,
    oncall_in,
    rotation_list,
    rotation_schedule,
    schedules,
    version_at,
    with_versions,
)
from oncall.services import (
    calendar_feed_issue,
    calendar_feed_revoke,
    calendar_feed_touch,
    handoff_item_set,
    handoff_test_page,
    override_create,
    override_delete,
    rotation_create,
    rotation_update,
    rotation_version_add,
    swap_accept,
    swap_cancel,
    swap_decline,
    swap_request,
)
from portal.accounts.models import User
from portal.accounts.permissions import role_required
from portal.accounts.roles import Role
from portal.errors import ApplicationError
from portal.instants import YEARS
from portal.notifications.models import Delivery
from portal.scheduling import get_zone, local_days

UPCOMING = timedelta(days=28)


@require_GET
def oncall_index(request: HttpRequest) -> HttpResponse:
    """Every rotation with who is on call now, and the signed-in person's own shifts, swaps and handoffs."""
    now = timezone.now()
    user = request.user
    rotations = list(with_versions(rotation_list()))
    upcoming = schedules(rotations, start=now, end=now + UPCOMING)  # from now: the board reads now from it too
    mine = [
        (schedule.rotation, change)
        for schedule in upcoming
        for layer in LAYERS
        for change in takeovers(schedule.segments(layer=layer), after=now - timedelta(microseconds=1))
        if change.incoming == user
    ]
    context = {
        "now": now,
        "board": oncall_in(upcoming, at=now),
        "my_shifts": sorted(mine, key=lambda pair: pair[1].at)[:10],
        "swaps": Swap.objects.filter(status=Swap.Status.PENDING, counterparty=user).select_related(
            "rotation", "requester"
        ),
        "handoffs": handoff_list().filter(acknowledged_at__isnull=True, at__gt=now - timedelta(days=7)),
        "feeds": CalendarFeed.objects.filter(owner=user).select_related("rotation"),
        "can_edit": policy.can_edit_rotations(user),
    }
    return render(request, "oncall/index.html", context)


@dataclass(frozen=True)
class Entry:
    """One person's part of one local day in the schedule grid."""

    segment: Segment[User]
    label: str


@dataclass(frozen=True)
class DayCell:
    day: date
    in_range: bool
    today: bool
    layers: list[tuple[str, list[Entry]]]


def _entry(segment: Segment[User], day_start: datetime, day_end: datetime, zone: str) -> Entry:
    tz = get_zone(zone)
    starts, ends = segment.start > day_start, segment.end < day_end
    name = segment.person.get_full_name() or segment.person.get_username()
    if starts and ends:
        hours = f"{segment.start.astimezone(tz):%H:%M}–{segment.end.astimezone(tz):%H:%M}"
    elif starts:
        hours = f"from {segment.start.astimezone(tz):%H:%M}"
    elif ends:
        hours = f"until {segment.end.astimezone(tz):%H:%M}"
    else:
        hours = "all day"
    return Entry(segment=segment, label=f"{name} · {hours}")


def _grid(rotation: Rotation, *, zone: str, first: date, last: date, focus: tuple[date, date], today: date):
    """Day cells from `first` to `last` (local dates in `zone`), with the schedule in force on each."""
    span = local_days(first_day=first, last_day=last, zone=zone)
    schedule = rotation_schedule(rotation, start=span.start, end=span.end)
    segments = {layer: joined(schedule.segments(layer=layer)) for layer in LAYERS}
    cells = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        bounds = local_days(first_day=day, last_day=day, zone=zone)
        layers = [
            (
                Layer(layer).label,
                [_entry(s, bounds.start, bounds.end, zone) for s in segments[layer] if s.start < bounds.end
                 and s.end > bounds.start],
            )
            for layer in LAYERS
        ]  # fmt: skip
        cells.append(DayCell(day=day, in_range=focus[0] <= day <= focus[1], today=day == today, layers=layers))
    return schedule, cells


def _window(view: str, anchor: date) -> tuple[date, date, date, date, date, date]:
    """(first, last) days shown, the focus range, and the anchors of the previous and next pages."""
    if view == "month":
        focus_start = anchor.replace(day=1)
        following = (focus_start + timedelta(days=32)).replace(day=1)
        focus_end = following - timedelta(days=1)
        first = focus_start - timedelta(days=focus_start.weekday())
        last = focus_end + timedelta(days=6 - focus_end.weekday())
        return first, last, focus_start, focus_end, (focus_start - timedelta(days=1)).replace(day=1), following
    first = anchor - timedelta(days=anchor.weekday())
    last = first + timedelta(days=6)
    return first, last, first, last, first - timedelta(days=7), first + timedelta(days=7)


def _schedule_context(request: HttpRequest, rotation: Rotation, now: datetime) -> dict[str, object]:
    version = version_at(rotation, at=now) or rotation.versions.order_by("effective_from").first()
    zone = version.timezone if version is not None else "UTC"
    view = "month" if request.GET.get("view") == "month" else "week"
    today = now.astimezone(get_zone(zone)).date()
    try:
        anchor = date.fromisoformat(request.GET.get("start", "")) if request.GET.get("start") else today
    except ValueError:
        anchor = today
    if anchor.year not in YEARS:  # a hand-edited URL; the grid around it would leave datetime's range
        anchor = today
    first, last, focus_start, focus_end, previous, following = _window(view, anchor)
    schedule, cells = _grid(rotation, zone=zone, first=first, last=last, focus=(focus_start, focus_end), today=today)
    return {
        "rotation": rotation, "zone": zone, "view": view, "cells": cells, "previous": previous.isoformat(),
        "next": following.isoformat(), "anchor": anchor.isoformat(), "focus_start": focus_start,
        "focus_end": focus_end, "shown_overrides": schedule.overrides,
    }  # fmt: skip


def _body_context(request: HttpRequest, rotation: Rotation, **extra: object) -> dict[str, object]:
    now = timezone.now()
    user = request.user
    version = version_at(rotation, at=now)
    zone = version.timezone if version is not None else "UTC"
    upcoming = rotation_schedule(rotation, start=now, end=now + UPCOMING)
    is_member = policy.is_member(user, rotation, now=now)
    context: dict[str, object] = {
        **_schedule_context(request, rotation, now),
        "now": now,
        "current": {layer: upcoming.at(layer=layer, at=now) for layer in LAYERS},
        "versions": [
            (
                version,
                [p.user for p in version.participants.all() if p.layer == Layer.PRIMARY],
                [p.user for p in version.participants.all() if p.layer == Layer.SECONDARY],
            )
            for version in rotation.versions.prefetch_related("participants__user").order_by("-effective_from")
        ],
        "overrides": rotation.overrides.filter(end__gt=now).select_related("user", "swap"),
        "swaps": rotation.swaps.filter(status=Swap.Status.PENDING).select_related("requester", "counterparty"),
        "handoffs": rotation.handoffs.select_related("outgoing", "incoming")[:8],
        "can_edit": policy.can_edit_rotations(user),
        "can_override": policy.can_manage_overrides(user, rotation, now=now),
        "can_swap": policy.can_request_swap(user, rotation, now=now),
        "is_member": is_member,
        "override_form": OverrideForm(zone=zone, initial={"layer": Layer.PRIMARY}),
        "swap_form": _swap_form(None, upcoming, user) if is_member else None,
        "error": "",
    }
    context.update(extra)
    return context


def _swap_form(data: object, upcoming: RotationSchedule, user: User) -> SwapForm:
    """A swap form offering the shifts the person holds and those everyone else holds, over the coming weeks."""
    mine, theirs = [], []
    for layer in LAYERS:
        for shift in upcoming.held(layer=layer):
            if shift.start <= upcoming.start:
                continue
            label = f"{Layer(layer).label}: {shift.start:%a %d %b %H:%M} – {shift.end:%a %d %b %H:%M} UTC"
            if shift.person == user:
                mine.append((SwapForm.mine_value(layer, shift.start), label))
            else:
                theirs.append((SwapForm.theirs_value(layer, shift.person, shift.start), f"{shift.person} · {label}"))
    return SwapForm(data, mine=mine, theirs=theirs)


def _rotation_response(request: HttpRequest, rotation: Rotation, *, status: int = 200, **extra: object) -> HttpResponse:
    if not request.htmx and status < 400:
        return redirect("oncall-rotation", pk=rotation.pk)
    context = _body_context(request, rotation, **extra)
    template = "oncall/rotation_detail.html#rotation-body" if request.htmx else "oncall/rotation_detail.html"
    return render(request, template, context, status=status)


@require_GET
@vary_on_headers("HX-Request")
def rotation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rotation = get_object_or_404(Rotation, pk=pk)
    if request.htmx and request.htmx.target == "schedule":
        return render(request, "oncall/rotation_detail.html#schedule", _schedule_context(request, rotation,
                                                                                          timezone.now()))  # fmt: skip
    return render(request, "oncall/rotation_detail.html", _body_context(request, rotation))


# The rotation form asks for the handoff rule in parts; a rule the engine refuses is the custom rule's fault.
_FORM_FIELDS = {"handoff_rrule": "custom_rrule"}


def _form_error(form: forms.Form, exc: ApplicationError) -> None:
    field = _FORM_FIELDS.get(exc.field or "", exc.field)
    form.add_error(field if field in form.fields else None, exc.message)


@require_POST
def override_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    rotation = get_object_or_404(Rotation, pk=pk)
    version = version_at(rotation, at=timezone.now())
    form = OverrideForm(request.POST, zone=version.timezone if version else "UTC")
    if form.is_valid():
        try:
            override_create(rotation=rotation, actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            _form_error(form, exc)
            return _rotation_response(request, rotation, status=exc.status_code, override_form=form, error=exc.message)
        return _rotation_response(request, rotation)
    return _rotation_response(request, rotation, status=400, override_form=form, error=_first_error(form))


def _first_error(form: forms.Form) -> str:
    field, messages = next(iter(form.errors.items()))
    return f"{field.replace('_', ' ')}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)


@require_POST
def override_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    override = get_object_or_404(Override.objects.select_related("rotation"), pk=pk)
    try:
        override_delete(override=override, actor=request.user)
    except ApplicationError as exc:
        return _rotation_response(request, override.rotation, status=exc.status_code, error=exc.message)
    return _rotation_response(request, override.rotation)


@require_POST
def swap_request_view(request: HttpRequest, pk: int) -> HttpResponse:
    rotation = get_object_or_404(Rotation, pk=pk)
    now = timezone.now()
    if not policy.can_request_swap(request.user, rotation, now=now):
        raise PermissionDenied("Only people on the rotation request swaps.")
    form = _swap_form(request.POST, rotation_schedule(rotation, start=now, end=now + UPCOMING), request.user)
    if not form.is_valid():
        return _rotation_response(request, rotation, status=400, swap_form=form, error=_first_error(form))
    data = form.cleaned_data
    try:
        swap_request(
            rotation=rotation, requester=request.user, layer=data["layer"], shift_start=data["shift_start"],
            counterparty=data["counterparty"], counterparty_shift_start=data["counterparty_shift_start"],
            note=data.get("note", ""),
        )  # fmt: skip
    except ApplicationError as exc:
        return _rotation_response(request, rotation, status=exc.status_code, swap_form=form, error=exc.message)
    return _rotation_response(request, rotation)


SWAP_ACTIONS = {"accept": swap_accept, "decline": swap_decline, "cancel": swap_cancel}


@require_POST
def swap_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in SWAP_ACTIONS:
        raise Http404(f"Unknown swap action {action!r}.")
    swap = get_object_or_404(Swap.objects.select_related("rotation"), pk=pk)
    try:
        SWAP_ACTIONS[action](swap=swap, actor=request.user)
    except ApplicationError as exc:
        return _rotation_response(request, swap.rotation, status=exc.status_code, error=exc.message)
    return _rotation_response(request, swap.rotation)


@require_http_methods(["GET", "POST"])
@role_required(Role.ADMIN)
def rotation_create_view(request: HttpRequest) -> HttpResponse:
    form = RotationForm(request.POST or None, initial={"timezone": "UTC", "frequency": "weekly", "handoff_time":
                                                        "09:00", "start_date": timezone.now().date()})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rotation = rotation_create(
                name=data["name"], description=data["description"], lead=data["lead"], services=data["services"],
                timezone=data["timezone"], handoff_rrule=data["handoff_rrule"], handoff_time=data["handoff_time"],
                start_date=data["start_date"], participants=data["participants"],
                secondary_participants=data["secondary_participants"], actor=request.user,
            )  # fmt: skip
        except ApplicationError as exc:
            _form_error(form, exc)
        else:
            return redirect("oncall-rotation", pk=rotation.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "oncall/rotation_form.html", {"form": form, "rotation": None}, status=status)


@require_http_methods(["GET", "POST"])
@role_required(Role.ADMIN)
def rotation_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Details change in place; a schedule change is a new version from the next handoff (or the chosen time)."""
    rotation = get_object_or_404(Rotation.objects.select_related("lead"), pk=pk)
    now = timezone.now()
    version = version_at(rotation, at=now) or rotation.versions.order_by("-effective_from").first()
    initial: dict[str, object] = {"name": rotation.name, "description": rotation.description,
                                  "lead": rotation.lead.username if rotation.lead else None,
                                  "services": [service.slug for service in rotation.services.all()]}  # fmt: skip
    if version is not None:
        people = list(version.participants.select_related("user"))
        initial |= {
            "timezone": version.timezone, "handoff_time": version.handoff_time, "start_date": version.start_date,
            "participants": ", ".join(p.user.username for p in people if p.layer == Layer.PRIMARY),
            "secondary_participants": ", ".join(p.user.username for p in people if p.layer == Layer.SECONDARY),
            **RotationForm.preset(version.handoff_rrule),
        }  # fmt: skip
    form = RotationForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():  # details and schedule together, or neither
                rotation_update(rotation=rotation, actor=request.user, name=data["name"],
                                description=data["description"], lead=data["lead"], clear_lead=data["lead"] is None,
                                services=data["services"])  # fmt: skip
                if _schedule_changed(form):
                    rotation_version_add(
                        rotation=rotation, actor=request.user, effective_from=data.get("effective_from"),
                        timezone=data["timezone"], handoff_rrule=data["handoff_rrule"],
                        handoff_time=data["handoff_time"], start_date=data["start_date"],
                        participants=data["participants"], secondary_participants=data["secondary_participants"],
                        now=now,
                    )  # fmt: skip
        except ApplicationError as exc:
            _form_error(form, exc)
        else:
            return redirect("oncall-rotation", pk=rotation.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "oncall/rotation_form.html", {"form": form, "rotation": rotation}, status=status)


SCHEDULE_FIELDS = ["timezone", "frequency", "every", "weekday", "custom_rrule", "handoff_time", "start_date",
                   "participants", "secondary_participants", "effective_from"]  # fmt: skip


def _schedule_changed(form: RotationForm) -> bool:
    return any(name in form.changed_data for name in SCHEDULE_FIELDS)


@require_GET
def handoff_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    handoff = get_object_or_404(handoff_detail(), pk=pk)
    return render(request, "oncall/handoff.html", _handoff_context(request, handoff))


def _handoff_context(request: HttpRequest, handoff: Handoff, **extra: object) -> dict[str, object]:
    items = list(handoff.items.all())
    pages = [item.test_page_id for item in items if item.test_page_id]
    return {
        "handoff": handoff,
        "test_page_deliveries": list(
            Delivery.objects.filter(notification_id__in=pages).select_related("channel").order_by("pk")
        ),
        "sides": [
            (side, [(item, policy.can_tick(request.user, item)) for item in items if item.side == side.value])
            for side in HandoffItem.Side
        ],
        "error": "",
        **extra,
    }


@require_POST
def handoff_item_view(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    item = get_object_or_404(HandoffItem.objects.select_related("handoff"), pk=item_pk, handoff_id=pk)
    error, status = "", 200
    try:
        handoff_item_set(item=item, actor=request.user, done=request.POST.get("done") == "1")
    except ApplicationError as exc:
        error, status = exc.message, exc.status_code
    if not request.htmx:
        return redirect("oncall-handoff", pk=pk) if not error else HttpResponse(error, status=status)
    handoff = handoff_detail().get(pk=pk)
    context = _handoff_context(request, handoff, error=error)
    return render(request, "oncall/handoff.html#handoff-checklist", context, status=status)


@require_POST
def handoff_test_page_view(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    item = get_object_or_404(HandoffItem.objects.select_related("handoff"), pk=item_pk, handoff_id=pk)
    error, status = "", 200
    try:
        handoff_test_page(item=item, actor=request.user)
    except ApplicationError as exc:
        error, status = exc.message, exc.status_code
    if not request.htmx:
        return redirect("oncall-handoff", pk=pk) if not error else HttpResponse(error, status=status)
    context = _handoff_context(request, handoff_detail().get(pk=pk), error=error)
    return render(request, "oncall/handoff.html#handoff-checklist", context, status=status)


@require_POST
def feed_issue_view(request: HttpRequest) -> HttpResponse:
    """Issue (or regenerate) a calendar URL and show it, once."""
    rotation = None
    if chosen := request.POST.get("rotation"):
        if not chosen.isdigit():
            return HttpResponse("rotation: give the rotation's id.", status=400)
        rotation = get_object_or_404(Rotation, pk=chosen)
    issued = calendar_feed_issue(owner=request.user, rotation=rotation)
    url = request.build_absolute_uri(reverse("oncall-calendar", args=[issued.token]))
    return render(request, "oncall/feed_issued.html", {"feed": issued.feed, "url": url})


@require_POST
def feed_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    feed = get_object_or_404(CalendarFeed, pk=pk)
    try:
        calendar_feed_revoke(feed=feed, actor=request.user)
    except ApplicationError as exc:
        raise PermissionDenied(exc.message) from exc
    return redirect("oncall-index")


@login_not_required
@require_safe
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """Public by design: calendar apps fetch it without a session; the unguessable token is the credential. HEAD
    answers too: calendar apps and proxies ask it before fetching."""
    feed = calendar_feed_by_token(token=token)
    if feed is None:
        raise Http404("No such calendar feed.")
    now = timezone.now()
    calendar_feed_touch(feed=feed, now=now)
    response = HttpResponse(feed_calendar(feed, now=now), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="oncall.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
