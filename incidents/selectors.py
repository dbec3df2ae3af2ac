from datetime import datetime, timedelta

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from contacts.models import Team
from incidents import policy
from incidents.models import ActionItem, Incident, PostIncidentReview, StatusUpdate, TimelineEvent
from operations.selectors.alerting import incident_owner, incident_owner_team
from portal.text import length_words

# Where `owner_team` keeps what it found, and where declaring an incident from alerts puts their owner
# before the alerts are written.
OWNER_CACHE = "_owner_team"


def incident_list() -> QuerySet[Incident]:
    """With what the API's rows and the incident page show; the review (joined) lets `policy.allowed_transitions`
    answer without a query per row.
    The incident roles most incidents leave empty are fetched apart (no query while every row's is empty): joining
    all nine tables cost PostgreSQL 7 ms of planning per list query at 100k incidents, against 1.3 ms for six."""
    return Incident.objects.select_related(
        "severity", "commander", "reporter", "review", "alert_group"
    ).prefetch_related("services", "communications_lead", "operations_lead", "scribe")


def incident_api_list() -> QuerySet[Incident]:
    """As `incident_list`, with the slug of the team owning each incident's alerts (`owner_team_slug`)."""
    return incident_list().annotate(owner_team_slug=incident_owner_team("slug"))


def incident_table() -> QuerySet[Incident]:
    """What the incidents page's table shows (severity, commander, services). Reading what the API's rows need as
    well (reporter, review, alert group, the other roles) took 11.3 ms for 50 rows at 100k incidents, against 7.0."""
    return Incident.objects.select_related("severity", "commander").prefetch_related("services")


def open_incidents_brief() -> QuerySet[Incident]:
    """Open incidents (the condition of the partial index `incident_open_detected_idx`) with only what a one-line
    summary shows (severity, commander): the dashboard orders and cuts them in the database, where joining every
    review and alert group costs a scan of those tables."""
    return Incident.objects.exclude(status__in=Incident.CLOSED_STATUSES).select_related("severity", "commander")


def incident_detail() -> QuerySet[Incident]:
    return incident_list().prefetch_related(
        Prefetch("timeline", queryset=TimelineEvent.objects.select_related("actor")),
        Prefetch("status_updates", queryset=StatusUpdate.objects.select_related("author")),
        "escalation_steps",
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
