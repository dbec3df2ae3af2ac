import django_filters
from django.db.models import QuerySet

from portal.cluster.models import FINISHED, ActionKind, ActionRun, Look, LookKind, Target
from portal.core.filters import InstantFilter
from portal.core.models import Environment


class ActionRunFilter(django_filters.FilterSet):
    """Filters shared by the actions page and the API."""

    # A plain column cannot duplicate rows: no DISTINCT, which would sort every matching run instead of reading
    # `actionrun_status_created_idx`.
    status = django_filters.MultipleChoiceFilter(choices=ActionRun.Status.choices, distinct=False)
    active = django_filters.BooleanFilter(method="filter_active", label="Not finished")
    kind = django_filters.ChoiceFilter(choices=ActionKind.choices, label="Action")
    environment = django_filters.ChoiceFilter(choices=Environment.choices)
    target = django_filters.ModelChoiceFilter(queryset=Target.objects.order_by("name"), to_field_name="slug")
    incident = django_filters.NumberFilter(field_name="incident_id", label="Incident id")
    requested_by = django_filters.CharFilter(
        field_name="requested_by__username", lookup_expr="iexact", label="Requested by (username)"
    )
    since = InstantFilter(field_name="created_at", lookup_expr="gte", label="From")
    until = InstantFilter(field_name="created_at", lookup_expr="lt", label="Until")

    class Meta:
        model = ActionRun
        fields = ["status", "active", "kind", "environment", "target", "incident", "requested_by", "since", "until"]

    def filter_active(self, queryset: QuerySet[ActionRun], name: str, value: bool | None) -> QuerySet[ActionRun]:
        if value is None:
            return queryset
        return queryset.exclude(status__in=FINISHED) if value else queryset.filter(status__in=FINISHED)


class LookFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=LookKind.choices)
    status = django_filters.ChoiceFilter(choices=Look.Status.choices)
    target = django_filters.ModelChoiceFilter(queryset=Target.objects.order_by("name"), to_field_name="slug")
    incident = django_filters.NumberFilter(field_name="incident_id", label="Incident id")

    class Meta:
        model = Look
        fields = ["kind", "status", "target", "incident"]
