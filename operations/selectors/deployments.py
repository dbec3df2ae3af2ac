from datetime import datetime

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from incidents.models import Incident
from operations.models import Deployment
from operations.policy import RECENT_CHANGES_BEFORE
from operations.selectors.checklists import checklist_detail


def deployment_list() -> QuerySet[Deployment]:
    return Deployment.objects.select_related("service", "deployed_by", "recorded_by").order_by("-started_at", "-pk")


def deployment_detail() -> QuerySet[Deployment]:
    checklists = checklist_detail().order_by("kind")  # with the counts ChecklistDetailOutput declares
    return deployment_list().prefetch_related(Prefetch("checklists", queryset=checklists))


def may_have_recent_changes() -> Exists:
    """For a query of incidents: whether `recent_changes` may list anything, a deployment to the incident's services
    since a day before it was detected (the list also stops at its resolution). Most incidents have none, and the
    incident page's read of none cost it 1 ms at 100k incidents."""
    since = OuterRef("detected_at") - RECENT_CHANGES_BEFORE
    return Exists(Deployment.objects.filter(service__incidents=OuterRef("pk"), started_at__gte=since))


def recent_changes(incident: Incident, *, now: datetime) -> QuerySet[Deployment]:
    """Deployments to the incident's services from a day before it was detected until it was resolved (or now):
    the seeds' "review recent changes", as the incident page and the review's facts name them (joining the users
    too cost PostgreSQL more to plan than the read took). Uses the incident's prefetched services when it has them."""
    services = [service.pk for service in incident.services.all()]
    until = incident.resolved_at or now
    since = incident.detected_at - RECENT_CHANGES_BEFORE
    return (
        Deployment.objects.filter(service__in=services, started_at__gte=since, started_at__lte=until)
        .select_related("service")
        .only("service__name", "version", "environment", "started_at", "who", "status")
        .order_by("-started_at", "-pk")
    )
