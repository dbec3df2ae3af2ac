import django_filters
from django.db.models import QuerySet
from django.utils import timezone

from incidents.models import Service
from operations.models import BurnAlert, Checklist, ChecklistTemplate, Deployment
from portal.core.filters import InstantFilter
from portal.core.models import Environment


class DeploymentFilter(django_filters.FilterSet):
    """Filters shared by the deployments page and API."""

    service = django_filters.ModelChoiceFilter(queryset=Service.objects.all(), to_field_name="slug")
    environment = django_filters.ChoiceFilter(choices=Environment.choices)
    status = django_filters.ChoiceFilter(choices=Deployment.Status.choices)
    since = InstantFilter(field_name="started_at", lookup_expr="gte", label="Started from")
    until = InstantFilter(field_name="started_at", lookup_expr="lt", label="Started until")

    class Meta:
        model = Deployment
        fields = ["service", "environment", "status", "since", "until"]


class ChecklistFilter(django_filters.FilterSet):
    """Filters shared by the checklists page and API."""

    kind = django_filters.ChoiceFilter(choices=ChecklistTemplate.Kind.choices)
    open = django_filters.BooleanFilter(field_name="completed_at", lookup_expr="isnull", label="Not complete")
    overdue = django_filters.BooleanFilter(method="filter_overdue", label="Overdue")
    assignee = django_filters.CharFilter(field_name="assignee__username", lookup_expr="iexact")

    class Meta:
        model = Checklist
        fields = ["kind", "open", "overdue", "assignee"]

    def filter_overdue(self, queryset: QuerySet[Checklist], name: str, value: bool | None) -> QuerySet[Checklist]:
        if value is None:
            return queryset
        overdue = {"completed_at__isnull": True, "period_end__lte": timezone.now()}
        return queryset.filter(**overdue) if value else queryset.exclude(**overdue)


class BurnAlertFilter(django_filters.FilterSet):
    slo = django_filters.CharFilter(field_name="slo__slug")
    open = django_filters.BooleanFilter(field_name="ended_at", lookup_expr="isnull", label="Still burning")
    action = django_filters.ChoiceFilter(choices=BurnAlert._meta.get_field("action").choices)

    class Meta:
        model = BurnAlert
        fields = ["slo", "open", "action"]
