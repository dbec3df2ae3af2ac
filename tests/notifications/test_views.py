from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.accounts.roles import Role
from portal.notifications.models import Delivery, EventKind, Severity
from portal.notifications.services import notify


def failed_delivery() -> Delivery:
    row = notify(event=EventKind.TEST, severity=Severity.INFO, title="Nightly test").deliveries.get()
    Delivery.objects.filter(pk=row.pk).update(status=Delivery.Status.FAILED, last_error="Attempt 6: HTTP 500")
    return row


def test_log_shows_deliveries_and_filters(client, make_user, live_channels):
    failed = failed_delivery()
    notify(event=EventKind.INCIDENT_OPENED, severity=Severity.INFO, title="Other")
    client.force_login(make_user(Role.VIEWER))

    page = client.get(reverse("delivery-list"), {"status": "failed"})

    assert page.status_code == 200
    assert [row["id"] for row in page.context["page"].object_list] == [failed.pk]
    assert "Attempt 6: HTTP 500" in page.content.decode()
    assert "Retry" not in page.content.decode()  # viewers see no retry button


def test_htmx_filter_returns_only_the_table(client, make_user, live_channels):
    failed_delivery()
    client.force_login(make_user(Role.VIEWER))
    html = client.get(reverse("delivery-list"), HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<section class="card" id="delivery-table">')


def test_responder_retries_from_the_log_with_htmx(client, make_user, live_channels):
    row = failed_delivery()
    client.force_login(make_user(Role.RESPONDER))

    assert "Retry" in client.get(reverse("delivery-list")).content.decode()
    response = client.post(reverse("delivery-retry", args=[row.pk]), HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tr id="delivery-{row.pk}">')
    assert "queued" in html
    row.refresh_from_db()
    assert row.status == Delivery.Status.QUEUED


def test_retry_without_javascript_redirects_back_with_a_message(client, make_user, live_channels):
    row = failed_delivery()
    client.force_login(make_user(Role.RESPONDER))
    response = client.post(reverse("delivery-retry", args=[row.pk]), follow=True)
    assert f"Delivery {row.pk} queued again." in response.content.decode()


def test_retrying_twice_shows_the_conflict(client, make_user, live_channels):
    row = failed_delivery()
    client.force_login(make_user(Role.RESPONDER))
    client.post(reverse("delivery-retry", args=[row.pk]), HTTP_HX_REQUEST="true")
    response = client.post(reverse("delivery-retry", args=[row.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "Only failed deliveries can be retried" in response.content.decode()


def test_viewer_cannot_retry(client, make_user, live_channels):
    row = failed_delivery()
    client.force_login(make_user(Role.VIEWER))
    assert client.post(reverse("delivery-retry", args=[row.pk])).status_code == 403
    row.refresh_from_db()
    assert row.status == Delivery.Status.FAILED


def test_profile_saves_contact_methods_and_reports_bad_ones(client, make_user):
    user = make_user(Role.VIEWER)
    client.force_login(user)

    bad = client.post(reverse("profile"), {"email": "v@example.com", "phone": "555-0100", "chat_handle": ""})
    assert bad.status_code == 400
    assert "E.164" in bad.content.decode()

    good = client.post(reverse("profile"), {"email": "v@example.com", "phone": "+14155550100", "chat_handle": "@v"})
    assert good.status_code == 302
    user.refresh_from_db()
    assert (user.phone, user.chat_handle) == ("+14155550100", "@v")


def test_the_log_reads_only_what_its_table_shows(client, make_user, live_channels):
    """Values, not models: not the notification's summary, calendar or links, nor the user's whole row."""
    failed_delivery()
    client.force_login(make_user(Role.VIEWER))
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("delivery-list")).status_code == 200
    page = next(q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "notifications_delivery"."id"'))
    unread = ('"notifications_notification"."summary"', '"notifications_notification"."calendar"', "password")
    assert [column for column in unread if column in page] == []
    assert page.count(" JOIN ") == 3  # channel, notification, user: one query for the page


def test_the_logs_channel_filter_reads_names_not_secrets(client, make_user, live_channels):
    client.force_login(make_user(Role.VIEWER))
    with CaptureQueriesContext(connection) as ctx:
        page = client.get(reverse("delivery-list"))
    assert page.status_code == 200
    choices = next(q["sql"] for q in ctx.captured_queries if 'FROM "notifications_channel"' in q["sql"])
    assert [secret for secret in ("webhook_url", "routing_key", "auth_token") if secret in choices] == []
    assert '<option value="' in page.content.decode()
