import django_filters
from django.db.models import Q, QuerySet

from incidents.models import Service
from oncall.models import Handoff, Layer, Override, Rotation, Swap
from portal.core.filters import InstantFilter


class RotationFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    service = django_filters.ModelChoiceFilter(
        field_name="services", queryset=Service.objects.all(), to_field_name="slug", label="Covers service (slug)"
    )

    class Meta:
        model = Rotation
        fields = ["name", "service"]


class OverrideFilter(django_filters.FilterSet):
    rotation = django_filters.NumberFilter(field_name="rotation_id")
    layer = django_filters.ChoiceFilter(choices=Layer.choices)
    user = django_filters.CharFilter(field_name="user__username", lookup_expr="iexact", label="Who covers")
    since = InstantFilter(field_name="end", lookup_expr="gt", label="Still running after")
    until = InstantFilter(field_name="start", lookup_expr="lt", label="Starting before")

    class Meta:
        model = Override
        fields = ["rotation", "layer", "user", "since", "until"]


class SwapFilter(django_filters.FilterSet):
    rotation = django_filters.NumberFilter(field_name="rotation_id")
    status = django_filters.ChoiceFilter(choices=Swap.Status.choices)
    user = django_filters.CharFilter(method="filter_user", label="Requester or counterparty (username)")

    class Meta:
        model = Swap
        fields = ["rotation", "status", "user"]

    def filter_user(self, queryset: QuerySet[Swap], name: str, value: str) -> QuerySet[Swap]:
        return queryset.filter(Q(requester__username__iexact=value) | Q(counterparty__username__iexact=value))


class HandoffFilter(django_filters.FilterSet):
    rotation = django_filters.NumberFilter(field_name="rotation_id")
    open = django_filters.BooleanFilter(field_name="acknowledged_at", lookup_expr="isnull", label="Not acknowledged")
    since = InstantFilter(field_name="at", lookup_expr="gte")
    until = InstantFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = Handoff
        fields = ["rotation", "open", "since", "until"]
