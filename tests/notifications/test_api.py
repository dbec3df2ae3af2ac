import pytest
from django.urls import reverse

from portal.accounts.roles import Role
from portal.notifications.models import Channel, Delivery, EventKind, PagerDutyWebhook, Severity, Subscription
from portal.notifications.services import notify


@pytest.fixture
def admin(token_client):
    return token_client(Role.ADMIN, username="ada")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "Slack #db", "kind": "chat", "chat_channel": "#db"}, "webhook_url"),
        ({"name": "Slack #db", "kind": "chat", "webhook_url": "not a url", "chat_channel": "#db"}, "webhook_url"),
        ({"name": "Slack #db", "kind": "chat", "webhook_url": "https://hooks.example.com/x", "chat_channel": "db"},
         "chat_channel"),
        ({"name": "PD", "kind": "pager", "endpoint_url": "https://events.pagerduty.com/v2/enqueue"}, "routing_key"),
        ({"name": "Text", "kind": "sms"}, "endpoint_url"),
        ({"name": "Email", "kind": "email"}, "name"),
        ({"name": "Fax", "kind": "fax"}, "kind"),
    ],
)  # fmt: skip
def test_bad_channel_configuration_is_refused_naming_the_field(admin, payload, field):
    before = Channel.objects.count()
    response = admin.post(reverse("api:channel-list"), payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert Channel.objects.count() == before


def test_a_disabled_channel_may_be_saved_incomplete(admin):
    response = admin.post(reverse("api:channel-list"), {"name": "Slack #db", "kind": "chat", "enabled": False})
    assert response.status_code == 201


def test_enabling_an_incomplete_channel_is_refused(admin):
    pager = Channel.objects.get(name="PagerDuty")
    response = admin.patch(reverse("api:channel-detail", args=[pager.pk]), {"enabled": True}, format="json")
    assert response.status_code == 400
    assert "routing_key" in response.json()["errors"]
    pager.refresh_from_db()
    assert not pager.enabled


def test_secrets_are_write_only_and_masked(admin, token_client):
    pager = Channel.objects.get(name="PagerDuty")
    response = admin.patch(
        reverse("api:channel-detail", args=[pager.pk]),
        {"routing_key": "abcdef0123456789abcdef0123456789", "enabled": True},
        format="json",
    )
    assert response.status_code == 200
    body = token_client(Role.VIEWER).get(reverse("api:channel-detail", args=[pager.pk])).json()
    assert "routing_key" not in body
    assert body["secrets"] == {"routing_key": "…6789"}
    assert "abcdef0123456789abcdef0123456789" not in str(body)


def test_a_chat_webhook_url_is_a_secret_too(admin, token_client):
    """Whoever holds a Slack webhook URL may post to that channel: Viewers see only its host and last characters."""
    slack = Channel.objects.filter(kind=Channel.Kind.CHAT).first()
    url = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXXf00d"
    response = admin.patch(reverse("api:channel-detail", args=[slack.pk]), {"webhook_url": url}, format="json")
    assert response.status_code == 200

    body = token_client(Role.VIEWER).get(reverse("api:channel-detail", args=[slack.pk])).json()
    assert "webhook_url" not in body
    assert body["secrets"]["webhook_url"] == "https://hooks.slack.com/…f00d"
    assert "XXXXsecretXXXX" not in str(body)


def test_viewers_read_configuration_but_cannot_change_it(token_client):
    viewer = token_client(Role.INCIDENT_COMMANDER)
    assert viewer.get(reverse("api:routing-rule-list")).status_code == 200
    response = viewer.post(reverse("api:channel-list"), {"name": "x", "kind": "email"}, format="json")
    assert response.status_code == 403
    assert "Admin" in response.json()["detail"]


def test_routing_rules_are_seeded_from_the_seeds(token_client):
    rules = token_client(Role.VIEWER).get(reverse("api:routing-rule-list"), {"page_size": 100}).json()["results"]
    names = {channel.pk: channel.name for channel in Channel.objects.all()}
    routed = {(rule["severity"], names[rule["channel"]]) for rule in rules}
    assert routed == {
        ("critical", "PagerDuty"), ("critical", "Slack #critical"), ("critical", "Email"), ("critical", "SMS"),
        ("warning", "Slack #warnings"), ("warning", "Email"),
        ("info", "Slack #info"),
        # The seeds' channels by event kind: P1-P3 incidents (critical and warning) in #incidents, and the rest at
        # any severity.
        ("critical", "Slack #incidents"), ("warning", "Slack #incidents"), ("", "Slack #alerts"),
        ("", "Slack #maintenance"), ("", "Slack #security-incidents"), ("", "Slack #devops"),
    }  # fmt: skip
    kinds = {names[rule["channel"]]: set(rule["event_kinds"]) for rule in rules}
    assert kinds["Slack #incidents"] == {"incident.opened", "incident.status_update", "incident.resolved"}
    assert kinds["Slack #devops"] == {"deployment", "cluster.action"}
    assert "incident.status_update" not in kinds["PagerDuty"]  # a status update pages nobody


def test_duplicate_routing_rule_is_a_400(admin):
    email = Channel.objects.get(name="Email")
    response = admin.post(reverse("api:routing-rule-list"), {"severity": "critical", "channel": email.pk})
    assert response.status_code == 400


class TestSubscriptions:
    def test_admin_subscribes_a_mailing_list_to_a_service(self, admin, api_service):
        response = admin.post(
            reverse("api:subscription-list"),
            {"email": "leadership@example.com", "services": ["api"], "event_kinds": ["incident.opened"]},
            format="json",
        )
        assert response.status_code == 201, response.json()
        subscription = Subscription.objects.get()
        assert list(subscription.services.all()) == [api_service]

    def test_a_user_without_email_cannot_be_subscribed(self, admin, make_user):
        make_user(Role.VIEWER, username="silent", email="")
        response = admin.post(
            reverse("api:subscription-list"), {"user": "silent", "event_kinds": ["incident.opened"]}, format="json"
        )
        assert response.status_code == 400
        assert "silent has no email address" in response.json()["errors"]["user"][0]

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"event_kinds": ["incident.opened"]}, "non_field_errors"),
            ({"email": "a@example.com", "user": "ada", "event_kinds": ["incident.opened"]}, "non_field_errors"),
            ({"email": "a@example.com", "event_kinds": []}, "event_kinds"),
            ({"email": "a@example.com", "event_kinds": ["incident.exploded"]}, "event_kinds"),
            ({"email": "not-an-address", "event_kinds": ["incident.opened"]}, "email"),
            ({"email": "a@example.com", "services": ["nope"], "event_kinds": ["incident.opened"]}, "services"),
        ],
    )
    def test_bad_subscriptions_name_the_problem(self, admin, payload, field):
        response = admin.post(reverse("api:subscription-list"), payload, format="json")
        assert response.status_code == 400
        assert field in response.json()["errors"]
        assert not Subscription.objects.exists()


class TestDeliveryLog:
    def test_lists_and_filters(self, token_client, live_channels):
        notify(event=EventKind.TEST, severity=Severity.INFO, title="one")
        notify(event=EventKind.INCIDENT_OPENED, severity=Severity.INFO, title="two")
        Delivery.objects.filter(notification__title="one").update(status=Delivery.Status.FAILED)
        viewer = token_client(Role.VIEWER)

        assert viewer.get(reverse("api:delivery-list")).json()["count"] == 2
        failed = viewer.get(reverse("api:delivery-list"), {"status": "failed"}).json()["results"]
        assert [row["title"] for row in failed] == ["one"]
        opened = viewer.get(reverse("api:delivery-list"), {"event": "incident.opened"}).json()["results"]
        assert [row["title"] for row in opened] == ["two"]

    def test_bad_filter_is_a_400_naming_it(self, token_client):
        response = token_client(Role.VIEWER).get(reverse("api:delivery-list"), {"status": "lost"})
        assert response.status_code == 400
        assert "status" in response.json()["errors"]

    def test_responder_retries_a_failed_delivery(self, token_client, live_channels, django_capture_on_commit_callbacks):
        row = notify(event=EventKind.TEST, severity=Severity.INFO, title="x").deliveries.get()
        Delivery.objects.filter(pk=row.pk).update(status=Delivery.Status.FAILED, last_error="HTTP 500")

        responder = token_client(Role.RESPONDER)  # a new user drops the derived caches at commit: not what is counted
        with django_capture_on_commit_callbacks() as callbacks:
            response = responder.post(reverse("api:delivery-retry", args=[row.pk]))

        assert response.status_code == 200
        assert response.json()["status"] == "queued"
        assert len(callbacks) == 1

    def test_viewer_may_not_retry(self, token_client, live_channels):
        row = notify(event=EventKind.TEST, severity=Severity.INFO, title="x").deliveries.get()
        Delivery.objects.filter(pk=row.pk).update(status=Delivery.Status.FAILED)
        assert token_client(Role.VIEWER).post(reverse("api:delivery-retry", args=[row.pk])).status_code == 403

    def test_retrying_a_queued_delivery_is_a_409(self, token_client, live_channels):
        row = notify(event=EventKind.TEST, severity=Severity.INFO, title="x").deliveries.get()
        response = token_client(Role.RESPONDER).post(reverse("api:delivery-retry", args=[row.pk]))
        assert response.status_code == 409
        assert "Only failed deliveries" in response.json()["detail"]

    def test_list_query_count_does_not_grow_with_rows(self, token_client, live_channels, django_assert_max_num_queries):
        viewer = token_client(Role.VIEWER)
        for index in range(20):
            notify(event=EventKind.TEST, severity=Severity.INFO, title=f"n{index}")
        with django_assert_max_num_queries(6):
            assert viewer.get(reverse("api:delivery-list")).json()["count"] == 20


class TestContactMethods:
    def test_user_sets_own_phone_and_chat_handle(self, token_client):
        client = token_client(Role.VIEWER)
        response = client.patch(reverse("api:me"), {"phone": "+447700900123", "chat_handle": "@vera"}, format="json")
        assert response.status_code == 200
        assert response.json()["phone"] == "+447700900123"
        client.user.refresh_from_db()
        assert client.user.chat_handle == "@vera"

    @pytest.mark.parametrize(
        ("payload", "field"),
        [({"phone": "07700 900123"}, "phone"), ({"chat_handle": "vera"}, "chat_handle"), ({"email": "x@"}, "email")],
    )
    def test_bad_contact_methods_name_the_field(self, token_client, payload, field):
        client = token_client(Role.VIEWER, phone="+447700900000")
        response = client.patch(reverse("api:me"), payload, format="json")
        assert response.status_code == 400
        assert response.json()["field"] == field
        client.user.refresh_from_db()
        assert client.user.phone == "+447700900000"


class TestChatAndPagingConfiguration:
    def test_secrets_are_write_only_and_shown_masked(self, admin, token_client):
        created = admin.post(
            reverse("api:slack-app-list"),
            {"name": "Slack", "signing_secret": "8f742231b10e8888abcd99yyyzzz85a5", "bot_token": "xoxb-123-secretbot"},
            format="json",
        )
        assert created.status_code == 201
        body = token_client(Role.VIEWER).get(reverse("api:slack-app-detail", args=[created.json()["id"]])).json()
        assert "signing_secret" not in body
        assert body["secrets"] == {"signing_secret": "…85a5", "bot_token": "…tbot"}
        assert "secretbot" not in str(body)

    def test_only_admins_configure_pagerduty_webhooks(self, admin, token_client):
        body = {"name": "pd", "secret": "whsec-0123456789", "api_token": "rest-key-0123456789"}
        assert token_client(Role.INCIDENT_COMMANDER).post(reverse("api:pagerduty-webhook-config-list"), body,
                                                          format="json").status_code == 403  # fmt: skip
        created = admin.post(reverse("api:pagerduty-webhook-config-list"), body, format="json")
        assert created.status_code == 201
        assert created.json()["secrets"] == {"secret": "…6789", "api_token": "…6789"}
        webhook = PagerDutyWebhook.objects.get()
        assert (webhook.secret, webhook.api_token) == ("whsec-0123456789", "rest-key-0123456789")

    def test_inbound_events_are_listed(self, token_client):
        response = token_client(Role.VIEWER).get(reverse("api:inbound-event-list"))
        assert response.status_code == 200
        assert response.json()["results"] == []
