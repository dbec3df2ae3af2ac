from auditlog.models import LogEntry
from django.db.models import QuerySet


def audit_entries() -> QuerySet[LogEntry]:
    """Audit log entries, newest first, with what the list pages show."""
    entries: QuerySet[LogEntry] = LogEntry.objects.select_related("actor", "content_type")
    return entries.order_by("-timestamp", "-pk")
