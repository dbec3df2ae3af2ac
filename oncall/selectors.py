"""Reading the on-call schedule: who is on call at an instant, segments over a range, lists for pages and the API.

Other apps call `oncall_at`, `oncall_now`, `service_rotations` and `rotation_timezone`; the rest serves this app.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, Service
from oncall.models import CalendarFeed, Handoff, HandoffItem, Layer, Override, Participant, Rotation, RotationVersion
from oncall.schedule import INSTANT, LAYERS, Cover, Plan, Segment, planned_segments, segment_at, segments_between
from portal.accounts.models import User
from portal.accounts.services import token_hash
from portal.core.derived_cache import DerivedCache
from portal.instants import instant_problem
from portal.scheduling import ScheduleError


def rotation_detail() -> QuerySet[Rotation]:
    """Every rotation, archived ones too (read by id: their history stays), with what pages show."""
    return Rotation.objects.select_related("lead").prefetch_related("services")


def rotation_list() -> QuerySet[Rotation]:
    """Rotations in service (not archived), with what list pages show."""
    return rotation_detail().filter(archived_at__isnull=True)


def with_versions(rotations: QuerySet[Rotation]) -> QuerySet[Rotation]:
    """`rotations` with their versions and participants loaded: what `schedules` needs, in three queries."""
    participants = Participant.objects.select_related("user")
    versions = RotationVersion.objects.select_related("created_by").prefetch_related(
        Prefetch("participants", queryset=participants)
    )
    return rotations.prefetch_related(Prefetch("versions", queryset=versions))


def plans(rotation: Rotation) -> list[Plan[User]]:
    """The rotation's versions as plans (from prefetched versions when there are); nobody after it is archived."""
    found: list[Plan[User]] = []
    archived_at = rotation.archived_at
    for version in rotation.versions.all():
        if archived_at is not None and version.effective_from >= archived_at:
            continue
        people = list(version.participants.all())
        found.append(
            Plan(
                effective_from=version.effective_from,
                handoffs=version.handoffs,
                primary=tuple(p.user for p in people if p.layer == Layer.PRIMARY),
                secondary=tuple(p.user for p in people if p.layer == Layer.SECONDARY),
            )
        )
    if found and archived_at is not None:
        found.append(Plan(effective_from=archived_at, handoffs=found[-1].handoffs, primary=()))
    return found


@dataclass(frozen=True, kw_only=True)
class RotationSchedule:
    """A rotation's plans and the overrides that matter for [start, end): exact inside that window."""

    rotation: Rotation
    start: datetime
    end: datetime
    plans: list[Plan[User]]
    overrides: list[Override]
    _covers: list[Cover[User]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        covers = [Cover(layer=o.layer, person=o.user, start=o.start, end=o.end, ref=o.pk) for o in self.overrides]
        object.__setattr__(self, "_covers", covers)

    def segments(self, *, layer: str) -> list[Segment[User]]:
        return segments_between(self.plans, self._covers, layer=layer, start=self.start, end=self.end)

    def planned(self, *, layer: str) -> list[Segment[User]]:
        """The shifts as the versions plan them, overrides ignored."""
        return planned_segments(self.plans, layer=layer, start=self.start, end=self.end)

    def held(self, *, layer: str) -> list[Segment[User]]:
        """The planned shifts no override touches, so their person still holds them whole: what swaps trade. An
        accepted swap is two overrides, so the shifts it traded drop out."""
        covers = [cover for cover in self._covers if cover.layer == layer]
        return [
            shift
            for shift in self.planned(layer=layer)
            if not any(cover.start < shift.end and shift.start < cover.end for cover in covers)
        ]

    def at(self, *, layer: str, at: datetime) -> Segment[User] | None:
        return segment_at(self.plans, self._covers, layer=layer, at=at)

    def override(self, segment: Segment[User]) -> Override | None:
        return next((o for o in self.overrides if o.pk == segment.cover), None)


def _require_aware(at: datetime, name: str) -> None:
    if at.utcoffset() is None:
        raise ScheduleError(f"needs a timezone-aware datetime, got naive {at.isoformat()}", field=name)
    if problem := instant_problem(at):
        raise ScheduleError(problem.removesuffix("."), field=name)


def schedules(rotations: Iterable[Rotation], *, start: datetime, end: datetime) -> list[RotationSchedule]:
    """The schedules of `rotations` (loaded `with_versions`) for [start, end), in one more query.

    Overrides are fetched for the whole of the planned shifts that reach into the window, so a segment's start and
    end are right even where an override cuts a shift outside the window.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    if end <= start:
        raise ScheduleError("must be after start", field="end")
    rotations = list(rotations)
    rotation_plans = {rotation.pk: plans(rotation) for rotation in rotations}
    reach: dict[int, tuple[datetime, datetime]] = {}
    for rotation in rotations:
        planned = [
            segment
            for layer in LAYERS
            for segment in planned_segments(rotation_plans[rotation.pk], layer=layer, start=start, end=end)
        ]
        reach[rotation.pk] = (
            min([start, *(segment.start for segment in planned)]),
            max([end, *(segment.end for segment in planned)]),
        )
    found: dict[int, list[Override]] = {rotation.pk: [] for rotation in rotations}
    if rotations:
        wanted = Q()
        for pk, (reach_start, reach_end) in reach.items():
            wanted |= Q(rotation_id=pk, end__gt=reach_start, start__lt=reach_end)
        for override in Override.objects.filter(wanted).select_related("user").order_by("start"):
            found[override.rotation_id].append(override)
    return [
        RotationSchedule(
            rotation=rotation, start=start, end=end, plans=rotation_plans[rotation.pk], overrides=found[rotation.pk]
        )
        for rotation in rotations
    ]


def rotation_schedule(rotation: Rotation, *, start: datetime, end: datetime) -> RotationSchedule:
    return schedules(with_versions(Rotation.objects.filter(pk=rotation.pk)), start=start, end=end)[0]


def oncall_at(rotation: Rotation, *, at: datetime, layer: str = Layer.PRIMARY) -> User | None:
    """Who holds `layer` of `rotation` at the instant `at` (overrides and swaps applied), or None."""
    _require_aware(at, "at")
    segment = rotation_schedule(rotation, start=at, end=at + INSTANT).at(layer=layer, at=at)
    return segment.person if segment is not None else None


@dataclass(frozen=True, kw_only=True)
class OnCall:
    """A rotation's primary and secondary at one instant; each segment says since and until when."""

    rotation: Rotation
    at: datetime
    primary: Segment[User] | None
    secondary: Segment[User] | None


def oncall_for(rotations: Iterable[Rotation], *, at: datetime) -> list[OnCall]:
    """Primary and secondary at `at` of `rotations` (loaded `with_versions`), in one more query."""
    return oncall_in(schedules(rotations, start=at, end=at + INSTANT), at=at)


# "On call now" answers are cached until the first handoff or override edge among them, at most this far ahead, and
# dropped on any write to what they show (oncall/apps.py).
ONCALL_NOW = DerivedCache("oncall-now")
ONCALL_NOW_HORIZON = timedelta(hours=1)


def oncall_for_until(rotations: Iterable[Rotation], *, at: datetime) -> tuple[list[OnCall], datetime]:
    """`oncall_for`, and the first instant after `at` at which any of the answers changes (a shift or an override
    starts or ends), at most ONCALL_NOW_HORIZON ahead: until then the answer holds."""
    found = schedules(rotations, start=at, end=at + ONCALL_NOW_HORIZON)
    return oncall_in(found, at=at), first_edge(found, after=at, limit=at + ONCALL_NOW_HORIZON)


def first_edge(found: Iterable[RotationSchedule], *, after: datetime, limit: datetime) -> datetime:
    """The first instant after `after` at which a shift or an override of `found` starts or ends; `limit` if none
    comes sooner. Until then, who is on call in `found` holds."""
    edges = [
        edge
        for schedule in found
        for layer in LAYERS
        for segment in schedule.segments(layer=layer)
        for edge in (segment.start, segment.end)
        if edge > after
    ]
    return min([limit, *edges])


def oncall_in(found: Iterable[RotationSchedule], *, at: datetime) -> list[OnCall]:
    """Primary and secondary at `at`, read from schedules that cover it (no query)."""
    return [
        OnCall(
            rotation=schedule.rotation,
            at=at,
            primary=schedule.at(layer=Layer.PRIMARY, at=at),
            secondary=schedule.at(layer=Layer.SECONDARY, at=at),
        )
        for schedule in found
    ]


def oncall_now(*, at: datetime | None = None, rotations: QuerySet[Rotation] | None = None) -> list[OnCall]:
    """Every rotation in service (or those given) with its primary and secondary at `at` (default: now), in a
    constant number of queries."""
    at = at or timezone.now()
    _require_aware(at, "at")
    return oncall_for(with_versions(rotation_list() if rotations is None else rotations), at=at)


def service_rotations(*, service: Service) -> QuerySet[Rotation]:
    """The rotations in service that cover `service`."""
    return rotation_list().filter(services=service)


def incident_rotation(incident: Incident) -> Rotation | None:
    """The rotation answering for an incident: the first (by name) covering one of its services, most critical first."""
    services = incident.services.order_by("tier", "name")
    return rotation_list().filter(services__in=services).order_by("name").first()


def version_at(rotation: Rotation, *, at: datetime) -> RotationVersion | None:
    """The version in force at `at`."""
    _require_aware(at, "at")
    return rotation.versions.filter(effective_from__lte=at).order_by("-effective_from").first()


def rotation_timezone(rotation: Rotation, *, at: datetime) -> str:
    """The rotation's IANA zone at `at` (e.g. for business hours); UTC before its first version."""
    version = version_at(rotation, at=at)
    return version.timezone if version is not None else "UTC"


def member_ids(rotation: Rotation, *, at: datetime) -> set[int]:
    """Users on the rotation: participants of the version in force at `at` and of any version scheduled after."""
    current = version_at(rotation, at=at)
    versions = Q(version__rotation=rotation, version__effective_from__gt=at)
    if current is not None:
        versions |= Q(version=current)
    return set(Participant.objects.filter(versions).values_list("user_id", flat=True))


def open_incidents_for(rotation: Rotation) -> QuerySet[Incident]:
    """Open incidents the rotation should know about: on services it covers, or on no service (nobody's yet).
    A rotation covering no services hears about all of them."""
    closed = [Incident.Status.RESOLVED, Incident.Status.REVIEW, Incident.Status.CLOSED]
    incidents = Incident.objects.exclude(status__in=closed).select_related("severity").order_by("severity__rank", "pk")
    covered = rotation.services.all()
    if covered.exists():
        incidents = incidents.filter(Q(services__in=covered) | Q(services__isnull=True)).distinct()
    return incidents


@dataclass(frozen=True, kw_only=True)
class UpcomingEvent:
    title: str
    start: datetime
    url: str = ""
    until: datetime | None = None  # set for what is already in force at the start: until when

    @property
    def in_force(self) -> bool:
        return self.until is not None


def upcoming_events(*, rotation: Rotation, start: datetime, end: datetime) -> Sequence[UpcomingEvent]:
    """For the handoff checklist: production freezes in force at `start`, and maintenance occurrences, production
    freezes and planned deployments (to the rotation's services, or any when it covers none) starting in
    [start, end)."""
    from maintenance.selectors import calendar_entries, freeze_periods
    from operations.models import Deployment

    events = [
        UpcomingEvent(
            title=f"Maintenance: {entry.window.name}",
            start=entry.start,
            url=reverse("maintenance-occurrence", args=[entry.occurrence.pk])
            if entry.occurrence
            else reverse("maintenance-window", args=[entry.window.pk]),
        )
        for entry in calendar_entries(start=start, end=end)
        if entry.start >= start
    ]
    events += [
        UpcomingEvent(title=f"Freeze ({period.level}): {period.name}", start=period.span.start,
                      url=reverse("freeze-calendar"), until=period.span.end if period.span.start < start else None)
        for period in freeze_periods(start=start, end=end, environment="production")
    ]  # fmt: skip
    planned = Deployment.objects.filter(
        status=Deployment.Status.PLANNED, started_at__gte=start, started_at__lt=end
    ).select_related("service")
    if rotation.services.exists():
        planned = planned.filter(service__in=rotation.services.all())
    events += [
        UpcomingEvent(
            title=f"Deployment planned: {deployment.service} {deployment.version} to {deployment.environment}",
            start=deployment.started_at,
            url=reverse("deployment-detail", args=[deployment.pk]),
        )
        for deployment in planned
    ]
    return sorted(events, key=lambda event: event.start)


def handoff_list() -> QuerySet[Handoff]:
    return Handoff.objects.select_related("rotation", "outgoing", "incoming").prefetch_related("items")


def handoff_detail() -> QuerySet[Handoff]:
    items = HandoffItem.objects.select_related("done_by", "incident__severity")
    return Handoff.objects.select_related("rotation__lead", "outgoing", "incoming").prefetch_related(
        Prefetch("items", queryset=items)
    )


def override_list() -> QuerySet[Override]:
    return Override.objects.select_related("rotation", "user", "created_by", "swap")


def calendar_feed_by_token(*, token: str) -> CalendarFeed | None:
    """The feed a URL token opens, or None (unknown or regenerated since)."""
    return CalendarFeed.objects.select_related("owner", "rotation").filter(token_hash=token_hash(token)).first()
