import django_filters

from incidents.models import Service
from maintenance.models import FreezeException, FreezeLevel, FreezePass, MaintenanceOccurrence, MaintenanceWindow
from portal.core.filters import InstantFilter
from portal.core.models import Environment


class WindowFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=MaintenanceWindow.Kind.choices)
    service = django_filters.ModelChoiceFilter(
        field_name="services", queryset=Service.objects.all(), to_field_name="slug"
    )

    class Meta:
        model = MaintenanceWindow
        fields = ["kind", "active", "environment", "service"]


class OccurrenceFilter(django_filters.FilterSet):
    """Filters shared by the occurrence list page and API."""

    status = django_filters.MultipleChoiceFilter(choices=MaintenanceOccurrence.Status.choices)
    window = django_filters.ModelChoiceFilter(queryset=MaintenanceWindow.objects.all())
    service = django_filters.ModelChoiceFilter(
        field_name="window__services", queryset=Service.objects.all(), to_field_name="slug"
    )
    since = InstantFilter(field_name="ends_at", lookup_expr="gt", label="Ending after")
    until = InstantFilter(field_name="starts_at", lookup_expr="lt", label="Starting before")

    class Meta:
        model = MaintenanceOccurrence
        fields = ["status", "window", "service", "since", "until"]


class ExceptionFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=FreezeException.Status.choices)
    environment = django_filters.ChoiceFilter(choices=Environment.choices)
    change = django_filters.CharFilter()
    requested_by = django_filters.CharFilter(field_name="requested_by__username", lookup_expr="iexact")

    class Meta:
        model = FreezeException
        fields = ["status", "environment", "change", "requested_by"]


class FreezePassFilter(django_filters.FilterSet):
    level = django_filters.MultipleChoiceFilter(choices=FreezeLevel.choices)
    environment = django_filters.ChoiceFilter(choices=Environment.choices)
    subject = django_filters.ChoiceFilter(choices=FreezePass.Subject.choices)

    class Meta:
        model = FreezePass
        fields = ["level", "environment", "subject"]
