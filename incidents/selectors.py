from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from contacts.models import Team
from incidents.models import ActionItem, Incident, PostIncidentReview, StatusUpdate, TimelineEvent
from operations.selectors.alerting import incident_owner, incident_owner_team

# Where `owner_team` keeps what it found, and where declaring an incident from alerts puts their owner
# before the alerts are written.
OWNER_CACHE = "_owner_team"


def incident_list() -> QuerySet[Incident]:
    """With what lists show; the review (joined) lets `policy.allowed_transitions` answer without a query per row."""
    return Incident.objects.select_related(
        "severity", "commander", "reporter", "review", "alert_group"
    ).prefetch_related("services")


def incident_api_list() -> QuerySet[Incident]:
    """As `incident_list`, with the slug of the team owning each incident's alerts (`owner_team_slug`)."""
    return incident_list().annotate(owner_team_slug=incident_owner_team("slug"))


def open_incidents() -> QuerySet[Incident]:
    """Incidents not yet resolved: the same condition as the partial index `incident_open_detected_idx`."""
    return incident_list().exclude(status__in=Incident.CLOSED_STATUSES)


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
