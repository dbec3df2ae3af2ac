from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from incidents.models import ActionItem, Incident, PostIncidentReview, StatusUpdate, TimelineEvent


def incident_list() -> QuerySet[Incident]:
    """With what lists show; the review (joined) lets `policy.allowed_transitions` answer without a query per row."""
    return Incident.objects.select_related(
        "severity", "commander", "reporter", "review", "alert_group"
    ).prefetch_related("services")


def open_incidents() -> QuerySet[Incident]:
    """Incidents not yet resolved: the same condition as the partial index `incident_open_detected_idx`."""
    return incident_list().exclude(status__in=Incident.CLOSED_STATUSES)


def open_incidents_brief() -> QuerySet[Incident]:
    """Open incidents with only what a one-line summary shows (severity, commander): the dashboard orders and cuts
    them in the database, where joining every review and alert group costs a scan of those tables."""
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
