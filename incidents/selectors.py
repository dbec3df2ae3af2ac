from django.db.models import Prefetch, QuerySet

from incidents.models import ActionItem, Incident, PostIncidentReview, StatusUpdate, TimelineEvent


def incident_list() -> QuerySet[Incident]:
    return Incident.objects.select_related("severity", "commander", "reporter", "alert_group").prefetch_related(
        "services"
    )


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
