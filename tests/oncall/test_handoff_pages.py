"""The handoff's PagerDuty items tick themselves: a test page that reached the incoming person, and their first
acknowledgement after the handoff."""

import json

import pytest
from django.urls import reverse

from incidents.models import Severity
from incidents.services import incident_acknowledge, incident_declare
from oncall.models import Handoff, HandoffItem
from oncall.services import handoff_test_page, oncall_sweep
from portal.errors import ApplicationError, ForbiddenError
from portal.notifications.delivery import deliver
from portal.notifications.models import Channel, Delivery
from tests.oncall.conftest import utc
from tests.servers import http_server

HANDOFF_AT = utc(2026, 1, 12, 9)  # ann hands the primary pager to ben
NOW = utc(2026, 1, 12, 9, 5)


@pytest.fixture
def pager_and_sms(db):
    """PagerDuty and the SMS gateway on loopback; every channel else off."""
    routes = {("POST", "/v2/enqueue"): (202, {"status": "success"}), ("POST", "/sms"): (200, {"id": "1"})}
    with http_server(routes) as server:
        Channel.objects.update(enabled=False)
        Channel.objects.filter(kind="pager").update(endpoint_url=server.url + "/v2/enqueue", enabled=True)
        pager = Channel.objects.get(kind="pager")
        pager.routing_key = "R" * 32
        pager.save()
        Channel.objects.filter(kind="sms").update(endpoint_url=server.url + "/sms", enabled=True)
        Channel.objects.filter(name="Slack #critical").update(webhook_url=server.url + "/chat", enabled=True)
        yield server


@pytest.fixture
def handoff(rotation, time_machine) -> Handoff:
    time_machine.move_to(NOW, tick=False)
    oncall_sweep(now=NOW)
    return Handoff.objects.get(rotation=rotation, at=HANDOFF_AT)


def item(handoff: Handoff, automation: str) -> HandoffItem:
    return handoff.items.get(automation=automation)


def send_queued() -> None:
    deliver(list(Delivery.objects.filter(status=Delivery.Status.QUEUED).values_list("pk", flat=True)))


def test_the_seeds_pagerduty_items_are_automated(handoff):
    assert item(handoff, "test_page").text == "Test PagerDuty notifications"
    assert item(handoff, "test_page").side == "incoming"
    assert item(handoff, "pager_transfer").text == "Transfer PagerDuty responsibility"


def test_a_delivered_test_page_ticks_the_item(handoff, ben, pager_and_sms):
    test_item = handoff_test_page(item=item(handoff, "test_page"), actor=ben, now=NOW)

    rows = Delivery.objects.filter(notification=test_item.test_page)
    assert {row.channel.kind for row in rows} == {"pager", "sms"}  # ben's own channels, not the team's chat
    assert rows.get(channel__kind="sms").user == ben
    assert oncall_sweep(now=NOW).auto_ticked == 0  # not delivered yet

    send_queued()
    paths = [request.path for request in pager_and_sms.requests]
    assert sorted(paths) == ["/sms", "/v2/enqueue"]
    page = json.loads(next(r.body for r in pager_and_sms.requests if r.path == "/v2/enqueue"))
    assert page["event_action"] == "trigger"
    assert "Test page for ben" in page["payload"]["summary"]

    assert oncall_sweep(now=NOW).auto_ticked == 1
    ticked = item(handoff, "test_page")
    assert (ticked.done_by, ticked.done_at) == (ben, NOW)


def test_a_failed_page_leaves_the_item_open_and_says_why(handoff, ben, pager_and_sms, client):
    Channel.objects.filter(kind="pager").update(endpoint_url=pager_and_sms.url + "/nowhere")
    handoff_test_page(item=item(handoff, "test_page"), actor=ben, now=NOW)
    send_queued()
    assert Delivery.objects.get(channel__kind="sms").status == Delivery.Status.DELIVERED
    assert oncall_sweep(now=NOW).auto_ticked == 0
    assert item(handoff, "test_page").done_at is None

    client.force_login(ben)
    page = client.get(reverse("oncall-handoff", args=[handoff.pk])).content.decode()
    assert "Send another test page" in page
    assert "HTTP 404" in page  # the pager delivery's error, on the checklist


def test_the_page_ticks_the_pagerduty_item_whatever_the_other_channels_did(handoff, ben, pager_and_sms):
    Channel.objects.filter(kind="sms").update(endpoint_url=pager_and_sms.url + "/nowhere")
    handoff_test_page(item=item(handoff, "test_page"), actor=ben, now=NOW)
    send_queued()
    assert Delivery.objects.get(channel__kind="sms").status == Delivery.Status.FAILED
    assert oncall_sweep(now=NOW).auto_ticked == 1
    assert item(handoff, "test_page").done_by == ben


def test_without_a_pager_channel_an_email_that_got_through_ticks_nothing(handoff, ben):
    """The item tests PagerDuty: with no pager channel configured the incoming person ticks it by hand."""
    Channel.objects.exclude(kind="email").update(enabled=False)
    test_item = handoff_test_page(item=item(handoff, "test_page"), actor=ben, now=NOW)
    send_queued()
    rows = Delivery.objects.filter(notification=test_item.test_page)
    assert [(row.channel.kind, row.status) for row in rows] == [("email", "delivered")]
    assert oncall_sweep(now=NOW).auto_ticked == 0
    assert item(handoff, "test_page").done_at is None


def test_the_new_on_calls_first_acknowledgement_ticks_the_transfer(handoff, ben, ann):
    before = incident_declare(title="Earlier", severity=Severity.objects.get(code="P3"), reporter=ann,
                              detected_at=utc(2026, 1, 12, 8), now=utc(2026, 1, 12, 8))  # fmt: skip
    incident_acknowledge(incident=before, actor=ben, now=utc(2026, 1, 12, 8, 30))  # before the handoff: not it
    assert oncall_sweep(now=NOW).auto_ticked == 0

    incident = incident_declare(title="Checkout slow", severity=Severity.objects.get(code="P3"), reporter=ann, now=NOW)
    incident_acknowledge(incident=incident, actor=ben, now=NOW)
    assert oncall_sweep(now=NOW).auto_ticked == 1
    assert item(handoff, "pager_transfer").done_by == ben


def test_only_the_incoming_person_sends_their_test_page(handoff, ann, ben):
    with pytest.raises(ForbiddenError):
        handoff_test_page(item=item(handoff, "test_page"), actor=ann, now=NOW)
    with pytest.raises(ApplicationError) as refused:
        handoff_test_page(item=item(handoff, "pager_transfer"), actor=ann, now=NOW)
    assert refused.value.field == "item"


def test_the_api_sends_a_test_page(handoff, ben, ann, pager_and_sms):
    from rest_framework.test import APIClient

    test_item = item(handoff, "test_page")
    url = reverse("api:oncall-handoff-test-page", args=[handoff.pk, test_item.pk])
    client = APIClient()
    client.force_authenticate(ann)
    assert client.post(url).status_code == 403
    client.force_authenticate(ben)
    response = client.post(url)
    assert response.status_code == 200
    assert response.json()["automation"] == "test_page"
    assert response.json()["test_page"] is not None


def test_the_page_offers_the_test_page_to_the_incoming_person(handoff, ben, ann, client, pager_and_sms):
    test_item = item(handoff, "test_page")
    client.force_login(ann)
    assert "Send a test page" not in client.get(reverse("oncall-handoff", args=[handoff.pk])).content.decode()
    client.force_login(ben)
    assert "Send a test page" in client.get(reverse("oncall-handoff", args=[handoff.pk])).content.decode()
    response = client.post(reverse("oncall-handoff-test-page", args=[handoff.pk, test_item.pk]),
                           HTTP_HX_REQUEST="true")  # fmt: skip
    assert response.status_code == 200
    assert 'id="handoff-checklist"' in response.content.decode()
    assert "<html" not in response.content.decode()
    assert "Queued" in response.content.decode()
