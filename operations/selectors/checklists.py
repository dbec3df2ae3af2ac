from datetime import datetime

from django.db.models import Count, Prefetch, Q, QuerySet

from operations.models import Checklist, ChecklistItem


def checklist_list() -> QuerySet[Checklist]:
    """Checklists with their counts of items and ticked items."""
    return Checklist.objects.select_related("template", "assignee", "deployment__service").annotate(
        item_count=Count("items"), done_count=Count("items", filter=Q(items__done_at__isnull=False))
    )


def checklist_detail() -> QuerySet[Checklist]:
    return checklist_list().prefetch_related(
        Prefetch("items", queryset=ChecklistItem.objects.select_related("done_by").order_by("position"))
    )


def overdue_checklists(*, now: datetime) -> QuerySet[Checklist]:
    """Periodic checklists whose period ended before they were complete, oldest first."""
    return checklist_list().filter(completed_at__isnull=True, period_end__lte=now).order_by("period_end", "pk")
