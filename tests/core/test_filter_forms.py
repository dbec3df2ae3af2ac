"""The list pages' filter fields are rendered once per set of values and kept, and dropped the moment the tables
their options come from change (issue 13: pages within 5x the floor)."""

import django_filters
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.filters import IncidentFilter
from incidents.models import Service
from portal.accounts.roles import Role
from portal.cluster.filters import ActionRunFilter
from portal.cluster.models import Target
from portal.core.filters import FILTER_FORMS
from portal.core.models import Environment
from portal.notifications.filters import DeliveryFilter

pytestmark = pytest.mark.django_db

KEPT = [IncidentFilter, DeliveryFilter, ActionRunFilter]  # the pages that show `{% filter_fields filter %}`


@pytest.mark.parametrize("filterset", KEPT)
def test_every_option_a_kept_filter_shows_comes_from_a_watched_table(filterset: type[django_filters.FilterSet]):
    for name, declared in filterset.base_filters.items():
        queryset = declared.extra.get("queryset")
        if queryset is not None:
            assert queryset.model in FILTER_FORMS.watched, f"{filterset.__name__}.{name}: watch {queryset.model}"
        assert not callable(declared.extra.get("choices")), f"{filterset.__name__}.{name}: options read once, kept"


@pytest.fixture
def viewer(client, make_user):
    client.force_login(make_user(Role.VIEWER))
    return client


def reads(client, url: str, table: str) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), sum(f'FROM "{table}"' in query["sql"] for query in ctx.captured_queries)


def test_kept_fields_are_read_again_only_for_other_values(viewer):
    Service.objects.create(name="Checkout", slug="checkout")
    first, services_read = reads(viewer, reverse("incident-list"), "incidents_service")
    assert services_read == 1  # the service filter's options
    again, services_read = reads(viewer, reverse("incident-list"), "incidents_service")
    assert (again.count('<option value="checkout"'), services_read) == (1, 0)

    chosen, _read = reads(viewer, reverse("incident-list") + "?service=checkout&page=2", "incidents_service")
    assert '<option value="checkout" selected>Checkout</option>' in chosen
    assert '<option value="checkout" selected>' not in again


def test_a_changed_option_shows_at_once(viewer):
    checkout = Service.objects.create(name="Checkout", slug="checkout")
    assert ">Checkout</option>" in viewer.get(reverse("incident-list")).content.decode()
    checkout.name = "Payments"
    checkout.save()
    assert ">Payments</option>" in viewer.get(reverse("incident-list")).content.decode()

    assert ">Staging cluster</option>" not in viewer.get(reverse("action-list")).content.decode()
    Target.objects.create(name="Staging cluster", slug="staging", kind=Target.Kind.KUBERNETES,
                          environment=Environment.STAGING)  # fmt: skip
    assert ">Staging cluster</option>" in viewer.get(reverse("action-list")).content.decode()


def test_a_fixed_form_filterset_builds_its_form_class_once_and_reads_its_options_each_time():
    """IncidentFilter's form class is built once; each request still gets its own form, values and service options."""
    api = Service.objects.create(name="API", slug="api")
    first = IncidentFilter({"service": "api", "open": "true"})
    assert first.is_valid(), first.errors
    checkout = Service.objects.create(name="Checkout", slug="checkout")  # after the form class was built
    second = IncidentFilter({"service": "checkout"})
    assert type(second.form) is type(first.form)  # the very class
    assert second.is_valid(), second.errors
    assert (first.form.cleaned_data["service"], second.form.cleaned_data["service"]) == (api, checkout)
    assert second.form.cleaned_data["open"] is None
    assert not IncidentFilter({"service": "nowhere"}).is_valid()
