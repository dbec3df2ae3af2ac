"""What lists and the incident page keep rather than read each time: the services (incidents.selectors.SERVICES),
lists name an incident's services from it and the page's picker offers them; the page's people pickers
(portal.accounts.selectors.HOLDERS); the workloads its Actions and Investigate cards offer
(portal.cluster.selectors.WORKLOADS). A change to any of them shows at once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.models import Incident, Service
from incidents.selectors import SERVICES, service_catalogue
from portal.accounts.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def services(api):
    web = Service.objects.create(name="Web", slug="web", tier=Service.Tier.STANDARD)
    billing = Service.objects.create(name="Billing", slug="billing", tier=Service.Tier.STANDARD)
    return api, billing, web  # the services' order: tier, then name


def listed(client, incident: Incident) -> list[str]:
    rows = client.get(reverse("api:incident-list")).json()["results"]
    return next(row["services"] for row in rows if row["id"] == incident.pk)


def test_lists_name_services_in_their_order_and_changes_at_once(token_client, declare, services, client, make_user):
    api, billing, web = services
    incident = declare(services=[web, api, billing])
    reader = token_client(Role.VIEWER)
    assert listed(reader, incident) == ["api", "billing", "web"]

    web.name, web.slug, web.tier = "Storefront", "storefront", Service.Tier.CRITICAL
    web.save()
    assert listed(reader, incident) == ["api", "storefront", "billing"]

    client.force_login(make_user(Role.VIEWER))
    row = client.get(reverse("incident-list")).content.decode().split(incident.reference)[1].split("</tr>")[0]
    assert "API, Storefront, Billing" in row


def test_a_service_the_catalogue_has_not_seen_yet_is_named(token_client, declare, services):
    """Written where no signal tells the cache (as a concurrent transaction's commit would land after this read)."""
    api, _billing, _web = services
    incident = declare(services=[api])
    reader = token_client(Role.VIEWER)
    assert listed(reader, incident) == ["api"]
    (queue,) = Service.objects.bulk_create([Service(name="Queue", slug="queue", tier=Service.Tier.CRITICAL)])
    Incident.services.through.objects.bulk_create([Incident.services.through(incident=incident, service=queue)])
    assert listed(reader, incident) == ["api", "queue"]


def test_the_catalogue_is_read_once_until_a_service_changes(services):
    SERVICES.invalidate()
    with CaptureQueriesContext(connection) as first:
        service_catalogue()
    with CaptureQueriesContext(connection) as again:
        assert [service.slug for service in service_catalogue().values()] == ["api", "billing", "web"]
    assert (len(first), len(again)) == (1, 0)
    services[2].delete()
    assert [service.slug for service in service_catalogue().values()] == ["api", "billing"]


def test_the_incident_pages_picker_offers_every_service_and_marks_the_incidents(client, make_user, declare, services):
    api, billing, web = services
    incident = declare(services=[billing])
    client.force_login(make_user(Role.INCIDENT_COMMANDER))
    page = client.get(reverse("incident-detail", args=[incident.pk])).content.decode()
    picker = page.split('name="services"')[1].split("</select>")[0]
    assert picker.count("<option") == 3
    assert '<option value="billing" selected>Billing</option>' in picker
    Service.objects.create(name="Queue", slug="queue")
    page = client.get(reverse("incident-detail", args=[incident.pk])).content.decode()
    assert '<option value="queue">Queue</option>' in page.split('name="services"')[1].split("</select>")[0]


def test_the_incident_pages_pickers_offer_a_new_responder_at_once(client, make_user, declare):
    incident = declare()
    client.force_login(make_user(Role.INCIDENT_COMMANDER, username="cora"))
    url = reverse("incident-detail", args=[incident.pk])
    assert client.get(url).content.decode().count('<option value="newbie"') == 0
    make_user(Role.RESPONDER, username="newbie")
    assert client.get(url).content.decode().count('<option value="newbie"') == 4  # commander and three roles


def test_the_incident_pages_workloads_change_at_once_and_keep_no_secret(client, make_user, declare, api):
    import pickle

    from django.core.cache import cache

    from portal.cluster.models import Namespace, Target, Workload
    from portal.cluster.selectors import WORKLOADS

    incident = declare(services=[api])
    client.force_login(make_user(Role.INCIDENT_COMMANDER))
    url = reverse("incident-detail", args=[incident.pk])
    secret = "https://admin:hunter2@k8s.example.com"
    target = Target.objects.create(name="Cluster", slug="prod", kind="kubernetes", environment="production", url=secret)
    shop = Namespace.objects.create(target=target, name="shop", environment="production")
    assert "deployment=web" not in client.get(url).content.decode()

    Workload.objects.create(service=api, target=target, namespace=shop, deployment="web")
    assert "deployment=web" in client.get(url).content.decode()
    kept = pickle.dumps(cache.get(WORKLOADS.entry_prefix + "enabled"))
    assert b"shop" in kept
    assert secret.encode() not in kept  # the target's URL stays in the database
    shop.name = "storefront"
    shop.save()
    assert "namespace=storefront" in client.get(url).content.decode()
    target.enabled = False
    target.save()
    assert "deployment=web" not in client.get(url).content.decode()
