from collections import defaultdict
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal, NamedTuple

from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet, Subquery
from django.utils import timezone

from contacts.models import Team
from incidents import policy
from incidents.models import ActionItem, Incident, PostIncidentReview, Service, TimelineEvent
from operations.models import ProcedureRun
from operations.selectors.alerting import incident_owner, incidents_owners
from operations.selectors.deployments import may_have_recent_changes
from portal.accounts.models import User
from portal.cluster.models import ActionRun, Look
from portal.core.derived_cache import DerivedCache
from portal.text import length_words

# Where `owner_team` keeps what it found, and where declaring an incident from alerts puts their owner
# before the alerts are written.
OWNER_CACHE = "_owner_team"
INCIDENT_JOINS = ("severity", "commander", "reporter", "review", "alert_group")


def incident_list() -> QuerySet[Incident]:
    """With what the incident page shows; the review (joined) lets `policy.allowed_transitions` answer without a
    query.
    The incident roles most incidents leave empty are fetched apart (no query while every row's is empty): joining
    all nine tables cost PostgreSQL 7 ms of planning per list query at 100k incidents, against 1.3 ms for six."""
    return Incident.objects.select_related(*INCIDENT_JOINS).prefetch_related(
        "services", "communications_lead", "operations_lead", "scribe"
    )


# The people an incident names: its roles (each value names its field) and its reporter.
INCIDENT_PEOPLE = (*Incident.Role.values, "reporter")


def incident_rows(incidents: QuerySet[Incident]) -> QuerySet[Incident, dict[str, Any]]:
    """What the API says of each incident, as values: its columns, and what three one-to-one joins give (severity,
    review, alert group). `fill_incident_rows` adds the rest for a page at a time.
    At 100,000 incidents, a page of 50 read as models (with their severity, people, review and alert group and the
    owning team's subquery) took 14-17 ms before serialising, against 9-10 ms this way with `fill_incident_rows`."""
    rows: QuerySet[Incident, dict[str, Any]] = incidents.values(
        *(field.attname for field in Incident._meta.concrete_fields if field.name not in {"created_at", "updated_at"}),
        severity_code=F("severity__code"),
        review_required=F("severity__review_required"),
        review_status=F("review__status"),
        alert_count=F("alert_group__alert_count"),
    )
    return rows


def fill_incident_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adds to `incident_rows`' rows their people's usernames, services' slugs and owning team's slug, with one query
    each for all the rows (none for people when no row names anyone), and the statuses each may move to."""
    ids = [row["id"] for row in rows]
    people = {row[f"{role}_id"] for row in rows for role in INCIDENT_PEOPLE} - {None}
    usernames = dict(User.objects.filter(pk__in=people).values_list("pk", "username")) if people else {}
    services = _service_fields(ids, "slug")
    owners = incidents_owners(ids) if ids else {}
    for row in rows:
        for role in INCIDENT_PEOPLE:
            row[role] = usernames.get(row[f"{role}_id"])
        row["services"] = services.get(row["id"], [])
        row["owner_team"] = owner.slug if (owner := owners.get(row["id"])) else None
        row["allowed_transitions"] = policy.next_statuses(
            row["status"], review_required=row["review_required"], review_status=row["review_status"]
        )
    return rows


def _service_fields(incident_ids: list[int], field: Literal["slug", "name"]) -> dict[int, list[str]]:
    """Each incident's services' `field`, in the services' order: one query, of the links alone."""
    links = Incident.services.through.objects.filter(incident_id__in=incident_ids)
    linked = list(links.values_list("incident_id", "service_id"))
    if not linked:
        return {}
    catalogue = service_catalogue()
    if any(service_id not in catalogue for _, service_id in linked):  # a service created since the catalogue was read
        catalogue = _service_catalogue()[0]
    services: dict[int, list[str]] = defaultdict(list)
    for incident_id, service_id in sorted(linked, key=lambda link: catalogue[link[1]].place):
        services[incident_id].append(getattr(catalogue[service_id], field))
    return services


class CatalogueService(NamedTuple):
    place: int  # in the services' order (Service.Meta.ordering: tier, then name)
    slug: str
    name: str


# Every service by id: lists and pickers read it, dropped on any change to a service (IncidentsConfig.ready).
SERVICES = DerivedCache("services")


def service_catalogue() -> dict[int, CatalogueService]:
    catalogue: dict[int, CatalogueService] = SERVICES.get_or_compute("all", _service_catalogue, now=timezone.now())
    return catalogue


def _service_catalogue() -> tuple[dict[int, CatalogueService], None]:
    rows = Service.objects.values_list("pk", "slug", "name")  # in Service.Meta.ordering
    return {pk: CatalogueService(place, slug, name) for place, (pk, slug, name) in enumerate(rows)}, None


def service_choices() -> list[tuple[str, str]]:
    """(slug, name) of every service, in their order: a services picker's options."""
    return [(service.slug, service.name) for service in service_catalogue().values()]


def incident_row(pk: int) -> dict[str, Any] | None:
    """One incident as the API says it (`incident_rows`), or None."""
    return next(iter(fill_incident_rows(list(incident_rows(Incident.objects.filter(pk=pk))))), None)


# What the incidents page's table shows of an incident's own columns.
TABLE_COLUMNS = ("id", "title", "status", "detected_at", "ack_due_at", "update_due_at", "resolution_due_at")


def incident_table_rows(page: QuerySet[Incident]) -> list[dict[str, Any]]:
    """What the incidents page's table shows of a page of incidents, as values: its columns, severity, commander and
    services' names. At 100k incidents, a page of 50 open ones read as models (with their severity, commander and
    services) took 8.0-9.3 ms and rendered in 9.0 ms, against 3.6-4.1 and 6.3 ms this way."""
    values: QuerySet[Incident, dict[str, Any]] = page.values(
        *TABLE_COLUMNS, severity_code=F("severity__code"), commander_name=F("commander__username")
    )
    rows = list(values)
    services = _service_fields([row["id"] for row in rows], "name")
    for row in rows:
        row["reference"] = Incident.reference_of(row["id"])
        row["status_label"] = Incident.Status(row["status"]).label
        row["services"] = services.get(row["id"], [])
    return rows


def open_incidents_brief() -> QuerySet[Incident]:
    """Open incidents (the condition of the partial index `incident_open_detected_idx`) with only what a one-line
    summary shows (severity, commander, status and timers): the dashboard orders and cuts them in the database, which
    sorts every open incident's row. At 100k incidents with 1,226 open, sorting whole rows (with the commander's and
    severity's) took 6.6 ms, against 2.8 ms for these columns."""
    return (
        Incident.objects.exclude(status__in=Incident.CLOSED_STATUSES)
        .select_related("severity", "commander")
        .only(
            "title", "status", "detected_at", "acknowledged_at", "ack_due_at", "update_due_at", "resolution_due_at",
            "severity__code", "severity__rank", "commander__username",
        )
    )  # fmt: skip


def incident_detail() -> QuerySet[Incident]:
    """One incident with what its page shows more than once (its services and timeline). What it shows once is
    read when shown: for one incident, a prefetch saves no query and builds and compiles its own even when there
    is nothing to read (its optional roles when empty: 0.75 ms for the three), or nothing it would show (the
    escalation steps of an incident with no escalation levels).
    Whether it has cluster actions, looks, procedure runs and recent changes (`has_action_runs`, `has_looks`,
    `has_procedure_runs`, `may_have_recent_changes`) is asked with it: most incidents have none, and reading four empty
    lists cost 3 ms at 100k incidents."""
    return _incident_detail().all()


@cache  # built once and cloned: building its joins, prefetches and questions took 0.6 ms a request
def _incident_detail() -> QuerySet[Incident]:
    return (
        Incident.objects.select_related(*INCIDENT_JOINS)
        .prefetch_related("services", Prefetch("timeline", queryset=TimelineEvent.objects.select_related("actor")))
        .annotate(
            has_action_runs=Exists(ActionRun.objects.filter(incident=OuterRef("pk"))),
            has_looks=Exists(Look.objects.filter(incident=OuterRef("pk"))),
            has_procedure_runs=Exists(ProcedureRun.objects.filter(incident=OuterRef("pk"))),
            may_have_recent_changes=may_have_recent_changes(),
        )
    )


def review_detail() -> QuerySet[PostIncidentReview]:
    return PostIncidentReview.objects.select_related("incident", "published_by").prefetch_related(
        Prefetch("action_items", queryset=ActionItem.objects.select_related("owner"))
    )


def incident_live_token(*, pk: int) -> str | None:
    """What the incident page shows changes with: the version (every change to the incident itself) and the newest
    timeline line (notes, pages, cluster actions, alerts). One indexed query, for pages that poll it; None if gone."""
    newest = TimelineEvent.objects.filter(incident=OuterRef("pk")).order_by("-pk").values("pk")[:1]
    row = Incident.objects.filter(pk=pk).annotate(newest=Subquery(newest)).values_list("version", "newest").first()
    return None if row is None else live_token(version=row[0], newest_event=row[1])


def live_token(*, version: int, newest_event: int | None) -> str:
    return f"{version}.{newest_event or 0}"


def owner_team(incident: Incident) -> Team | None:
    """The alert catalogue's owner of the incident's alerts (None: no catalogued alert), read once per instance."""
    owner: Team | None = getattr(incident, OWNER_CACHE) if hasattr(incident, OWNER_CACHE) else incident_owner(incident)
    setattr(incident, OWNER_CACHE, owner)
    return owner


def _took(start: datetime, end: datetime | None) -> str:
    if end is None:
        return "not reached"
    return length_words(end - start)


def review_facts(incident: Incident, *, now: datetime) -> str:
    """The review's first draft of what happened, from the record: how long acknowledging, mitigating and resolving
    took against the targets, the escalations, the cluster actions run for the incident and the deployments to its
    services around it (RECENT_CHANGES_BEFORE before detection until resolution)."""
    from operations.policy import RECENT_CHANGES_BEFORE
    from operations.selectors.deployments import recent_changes

    detected, severity = incident.detected_at, incident.severity
    ack_target = policy.response_due(severity, detected, policy.business_hours(incident))
    resolve_target = timedelta(minutes=severity.resolution_minutes)
    changes = list(incident.timeline.filter(kind=TimelineEvent.Kind.SEVERITY).order_by("at", "pk"))
    declared = changes[0].data.get("from", severity.code) if changes else severity.code
    lines = [
        f"Detected {detected:%Y-%m-%d %H:%M} UTC as {declared}.",
        *(f"Severity {event.at:%m-%d %H:%M}: {event.message}" for event in changes),
        f"Time to acknowledge: {_took(detected, incident.acknowledged_at)} "
        f"({severity.code} target {_took(detected, ack_target)}).",
        f"Time to mitigate: {_took(detected, incident.mitigated_at)}.",
        f"Time to resolve: {_took(detected, incident.resolved_at)} "
        f"({severity.code} target {_took(detected, detected + resolve_target)}).",
        "",
        "Escalations:",
    ]
    escalations = incident.timeline.filter(kind__in=[TimelineEvent.Kind.ESCALATION, TimelineEvent.Kind.FLAG])
    lines += [f"- {event.at:%m-%d %H:%M} {event.message}" for event in escalations.order_by("at", "pk")] or ["- none"]
    lines += ["", "Cluster actions:"]
    runs = incident.action_runs.select_related("target", "requested_by").order_by("created_at", "pk")
    lines += [
        f"- {run.created_at:%m-%d %H:%M} {run.reference} {run.get_kind_display()} on {run.target} by "
        f"{run.requested_by}: {run.get_status_display().lower()}; {run.reason}"
        for run in runs
    ] or ["- none"]
    hours = int(RECENT_CHANGES_BEFORE.total_seconds() // 3600)
    lines += ["", f"Deployments to the affected services from {hours} h before detection until resolution:"]
    deployments = recent_changes(incident, now=now).order_by("started_at", "pk")
    lines += [
        f"- {deployment.started_at:%m-%d %H:%M} {deployment.service} {deployment.version} to "
        f"{deployment.get_environment_display().lower()} by {deployment.who}: {deployment.get_status_display().lower()}"
        for deployment in deployments
    ] or ["- none"]
    return "\n".join(lines)
