"""The Django admin never renders a stored secret back into a page (webhook URLs, routing keys, tokens, signing
secrets): the change form leaves the field empty and keeps the stored value unless a new one is typed, and lists show
it masked."""

import pytest
from django.contrib import admin
from django.forms.models import model_to_dict
from django.test import RequestFactory
from django.urls import reverse

from contacts.models import Team
from portal.accounts.roles import Role
from portal.notifications.models import Channel, PagerDutyWebhook, SlackApp

pytestmark = pytest.mark.django_db

WEBHOOK = "https://hooks.slack.com/services/T000/B000/channelwebhooksecret"
CASES = {
    "channel": (Channel, {"name": "Slack #db", "kind": "chat", "chat_channel": "#db", "webhook_url": WEBHOOK},
                "webhook_url"),
    "slack app": (SlackApp, {"name": "Broxiva", "signing_secret": "slacksigningsecret0123456789"}, "signing_secret"),
    "pagerduty webhook": (PagerDutyWebhook, {"name": "PD", "secret": "pagerdutywebhooksecret0123"}, "secret"),
    "team": (Team, {"name": "Payments", "slug": "payments-team",
                    "pagerduty_routing_key": "routingkeysecret0123456789abcdef"}, "pagerduty_routing_key"),
}  # fmt: skip


@pytest.fixture
def staff(make_user):
    return make_user(Role.ADMIN, is_staff=True)


@pytest.fixture(params=CASES.values(), ids=CASES.keys())
def stored(request):
    model, fields, secret = request.param
    return model.objects.create(**fields), secret


def url(obj, view: str) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk] if view == "change" else [])


def test_the_change_page_and_the_list_never_show_the_secret(stored, staff, client):
    obj, secret = stored
    client.force_login(staff)
    value = getattr(obj, secret)
    page = client.get(url(obj, "change"))
    assert page.status_code == 200
    assert value not in page.content.decode()
    assert "Leave empty to keep the stored one." in page.content.decode()
    listing = client.get(url(obj, "changelist")).content.decode()
    assert value not in listing
    assert value[-4:] in listing  # masked: the last characters only


def test_an_empty_secret_keeps_the_stored_one_and_a_new_one_replaces_it(stored, staff):
    obj, secret = stored
    model_admin = admin.site._registry[type(obj)]
    request = RequestFactory().post("/")
    request.user = staff
    form_class = model_admin.get_form(request, obj, change=True)
    data = {
        name: value for name, value in model_to_dict(obj, fields=form_class.base_fields).items() if value is not None
    }

    kept = form_class(data={**data, secret: ""}, instance=obj)
    assert kept.is_valid(), kept.errors
    assert getattr(kept.save(), secret) == getattr(type(obj).objects.get(pk=obj.pk), secret) != ""

    new = "https://hooks.slack.com/services/T000/B000/rotated" if secret == "webhook_url" else "rotatedsecret0123456789"
    replaced = form_class(data={**data, secret: new}, instance=type(obj).objects.get(pk=obj.pk))
    assert replaced.is_valid(), replaced.errors
    replaced.save()
    assert getattr(type(obj).objects.get(pk=obj.pk), secret) == new
