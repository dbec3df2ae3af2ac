import django_filters
from drf_spectacular.utils import extend_schema_field

from incidents.models import Incident, Service, Severity
from portal.core.filters import FixedFormFilterSet, InstantFilter


@extend_schema_field({"type": "array", "items": {"type": "string", "example": "P1"}})
class SeverityCodesFilter(django_filters.ModelMultipleChoiceFilter):
    """Severity codes, e.g. ?severity=P1&severity=P2."""


class IncidentFilter(FixedFormFilterSet):
    """Filters shared by the incident list page and API."""

    # Plain columns and a foreign key cannot duplicate rows: no DISTINCT, which would sort the whole table instead
    # of reading the list's index.
    status = django_filters.MultipleChoiceFilter(choices=Incident.Status.choices, distinct=False)
    open = django_filters.BooleanFilter(method="filter_open", label="Open only")
    severity = SeverityCodesFilter(
        field_name="severity__code", queryset=Severity.objects.all(), to_field_name="code", distinct=False
    )
    service = django_filters.ModelChoiceFilter(
        field_name="services", queryset=Service.objects.all(), to_field_name="slug"
    )
    commander = django_filters.CharFilter(field_name="commander__username", lookup_expr="iexact")
    since = InstantFilter(field_name="detected_at", lookup_expr="gte", label="Detected from")
    until = InstantFilter(field_name="detected_at", lookup_expr="lt", label="Detected until")

    class Meta:
        model = Incident
        fields = ["status", "open", "severity", "service", "commander", "since", "until"]

    def filter_open(self, queryset, name, value):  # type: ignore[no-untyped-def]
        closed = Incident.CLOSED_STATUSES
        if value is None:
            return queryset
        return queryset.exclude(status__in=closed) if value else queryset.filter(status__in=closed)
