from auditlog.models import LogEntry
from django.db.models import QuerySet


def audit_entries() -> QuerySet[LogEntry]:
    """Audit log entries, newest first, with what the list pages show."""
    return LogEntry.objects.select_related("actor", "content_type").order_by("-timestamp", "-pk")
