import django_filters
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet


def _audited_content_types(request: object) -> QuerySet[ContentType]:
    return ContentType.objects.filter(pk__in=LogEntry.objects.values("content_type").distinct()).order_by(
        "app_label", "model"
    )


class AuditLogFilter(django_filters.FilterSet):
    """Filters shared by the audit log page and the audit API."""

    actor = django_filters.CharFilter(field_name="actor__username", lookup_expr="iexact", label="Actor (username)")
    model = django_filters.ModelChoiceFilter(
        field_name="content_type", queryset=_audited_content_types, label="Model", to_field_name="pk"
    )
    object_pk = django_filters.CharFilter(field_name="object_pk", label="Object id")
    action = django_filters.ChoiceFilter(choices=LogEntry.Action.choices)
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte", label="From")
    until = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt", label="Until")

    class Meta:
        model = LogEntry
        fields = ["actor", "model", "object_pk", "action", "since", "until"]
