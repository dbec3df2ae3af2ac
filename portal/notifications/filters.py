import django_filters

from portal.core.filters import InstantFilter
from portal.notifications.models import Channel, Delivery, EventKind


class DeliveryFilter(django_filters.FilterSet):
    """Filters shared by the delivery log page and API."""

    status = django_filters.ChoiceFilter(choices=Delivery.Status.choices)
    # Names only: the options need none of the channels' secrets.
    channel = django_filters.ModelChoiceFilter(queryset=Channel.objects.only("name").order_by("name"))
    event = django_filters.ChoiceFilter(field_name="notification__event_kind", choices=EventKind.choices, label="Event")
    since = InstantFilter(field_name="created_at", lookup_expr="gte", label="From")
    until = InstantFilter(field_name="created_at", lookup_expr="lt", label="Until")

    class Meta:
        model = Delivery
        fields = ["status", "channel", "event", "since", "until"]
