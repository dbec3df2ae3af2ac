"""The public status page: state words, updates as text, 90 days of uptime per service, past incidents, and email
subscriptions confirmed by a signed link (no login anywhere, internal updates never shown or sent)."""

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from incidents.models import Severity
from incidents.services import incident_acknowledge, incident_declare, incident_post_update, incident_transition
from maintenance import selectors
from portal import settings as portal_settings
from portal.accounts.roles import Role
from portal.core.audit import describe_changes
from portal.notifications.delivery import deliver
from portal.notifications.models import Delivery, Subscription
from portal.notifications.status_links import CONFIRM_SALT, unsubscribe_url
from tests.maintenance.conftest import T0

DAY = timedelta(days=1)


@pytest.fixture
def reporter(make_user):
    return make_user(Role.INCIDENT_COMMANDER, username="ines", email="ines@example.com")


@pytest.fixture
def incident(reporter, api):
    def make(code: str, detected: datetime, resolved: datetime | None = None, *, public: bool = True, **fields):
        made = incident_declare(title=fields.pop("title", f"{code} trouble"), severity=Severity.objects.get(code=code),
                                reporter=reporter, services=[api], is_public=public, detected_at=detected,
                                now=detected, **fields)  # fmt: skip
        if resolved is not None:
            incident_transition(incident=made, to_status="resolved", confirm=True, actor=reporter, now=resolved,
                                final_update=f"{made.title} is over.")  # fmt: skip
        return made

    return make


class TestUptime:
    def test_minutes_of_public_p1_p2_incidents_per_utc_day_counted_once(self, api, incident):
        day = lambda n: datetime.combine(T0.date() - n * DAY, datetime.min.time(), tzinfo=UTC)  # noqa: E731
        incident("P1", day(2) + timedelta(hours=23, minutes=30), day(1) + timedelta(minutes=45))
        incident("P2", day(1) + timedelta(minutes=30), day(1) + timedelta(hours=1))  # overlaps: counted once
        incident("P3", day(3), day(3) + timedelta(hours=5))  # degraded, not down
        incident("P1", day(4), day(4) + timedelta(hours=5), public=False)  # internal: not on the page
        incident("P1", T0 - timedelta(minutes=30))  # open now

        days = selectors.service_uptime(services=[api], now=T0)[api.pk]

        assert len(days) == 90
        assert days[0].day == T0.date() - 89 * DAY
        by_day = {d.day: d for d in days}
        assert by_day[day(2).date()].down_minutes == 30
        assert by_day[day(1).date()].down_minutes == 60
        assert by_day[day(3).date()].down_minutes == by_day[day(4).date()].down_minutes == 0
        today = by_day[T0.date()]
        assert (today.down_minutes, today.measured_minutes) == (30, 12 * 60)
        assert round(today.percent, 2) == 95.83
        assert by_day[day(1).date()].level == "major"
        assert by_day[day(2).date()].level == "partial"
        assert by_day[day(3).date()].level == "ok"

    def test_an_incident_older_than_the_window_counts_only_inside_it(self, api, incident):
        start = datetime.combine(T0.date() - 89 * DAY, datetime.min.time(), tzinfo=UTC)
        incident("P1", start - DAY, start + timedelta(minutes=10))
        days = selectors.service_uptime(services=[api], now=T0)[api.pk]
        assert days[0].down_minutes == 10
        assert sum(d.down_minutes for d in days) == 10

    @pytest.mark.parametrize("days", [1, 7, 90, 365])
    def test_one_query_whatever_the_number_of_days(self, api, database, incident, django_assert_num_queries, days):
        for n in range(1, 6):
            incident("P1", T0 - n * DAY, T0 - n * DAY + timedelta(hours=n))
        with django_assert_num_queries(1):
            uptime = selectors.service_uptime(services=[api, database], now=T0, days=days)
        assert len(uptime[api.pk]) == days
        assert sum(d.down_minutes for d in uptime[database.pk]) == 0


class TestPage:
    def test_state_words_uptime_bars_past_incidents_and_text_updates(self, client, api, incident, reporter):
        open_p1 = incident("P1", T0 - timedelta(hours=1), title="Checkout down")
        incident_post_update(incident=open_p1, label="identified", description="A bad deploy.\nRolling back.",
                             actor=reporter, is_public=True)  # fmt: skip
        incident_post_update(incident=open_p1, label="identified", description="Secret: the db password leaked",
                             actor=reporter, is_public=False)  # fmt: skip
        incident("P2", T0 - 3 * DAY, T0 - 3 * DAY + timedelta(hours=2), title="Search slow")
        incident("P2", T0 - 2 * DAY, T0 - 2 * DAY + timedelta(hours=2), title="Hidden thing", public=False)

        response = client.get(reverse("status-page"))  # anonymous

        html = response.content.decode()
        assert response.status_code == 200
        assert "Major outage" in html
        assert "Majoroutage" not in html
        assert "<p>A bad deploy.<br>Rolling back.</p>" in html
        assert "<pre" not in html
        assert "db password" not in html
        assert "Hidden thing" not in html
        assert html.count('class="bar bar-') == 90
        assert "bar bar-major" in html
        search_day = f"{T0 - 3 * DAY:%Y-%m-%d}: 91.67%"  # two hours down of 24
        assert (
            f'<li class="bar bar-major" title="{search_day}"><span class="visually-hidden">{search_day}</span></li>'
            in html
        )
        history = html[html.index('id="status-history"') :]
        assert "Search slow" in history
        assert "Search slow is over." in history
        assert "Checkout down" not in history
        assert 'action="/status/subscribe/"' in html

    def test_the_json_carries_the_same(self, api_client, api, incident):
        incident("P2", T0 - 3 * DAY, T0 - 3 * DAY + timedelta(hours=2), title="Search slow")
        body = api_client.get(reverse("api:status")).json()
        [row] = body["services"]
        assert row["status_label"] == "Operational"
        assert sum(day["down_minutes"] for day in row["uptime_days"]) == 120
        [past] = body["past_incidents"]
        assert past["title"] == "Search slow"
        assert past["updates"][0]["label"] == "resolved"

    def test_spans_past_a_day_write_their_end_date(self, client, api, incident, one_off):
        one_off(start=datetime(2026, 11, 20, 22, tzinfo=UTC), hours=30, name="Datacenter move")
        incident("P2", datetime(2026, 11, 10, 23, tzinfo=UTC), datetime(2026, 11, 11, 1, 30, tzinfo=UTC),
                 title="Search slow")  # fmt: skip
        incident("P3", datetime(2026, 11, 12, 8, tzinfo=UTC), datetime(2026, 11, 12, 9, tzinfo=UTC))
        html = client.get(reverse("status-page")).content.decode()
        assert "Datacenter move</strong>: Fri 2026-11-20 22:00 – Sun 2026-11-22 04:00 UTC" in html
        assert "2026-11-10 23:00 – 2026-11-11 01:30 UTC" in html
        assert "2026-11-12 08:00–09:00 UTC" in html

    def test_the_portal_links_to_it(self, client, make_user):
        client.force_login(make_user(Role.VIEWER))
        assert 'href="/status/"' in client.get(reverse("dashboard")).content.decode()


class TestKept:
    """Its answer is kept for the minute it was computed in, and dropped when anything it shows changes."""

    def test_read_again_within_its_minute_it_asks_the_database_nothing(
        self, client, api, incident, django_assert_num_queries
    ):
        incident("P1", T0 - timedelta(hours=1), title="Checkout down")
        assert "Checkout down" in client.get(reverse("status-page")).content.decode()
        with django_assert_num_queries(0):
            again = client.get(reverse("status-page")).content.decode()
        assert "Checkout down" in again
        assert 'value="api"' in again  # the subscribe form's services, from the page's

    def test_a_change_shows_at_once(self, client, api, incident, reporter):
        open_p1 = incident("P1", T0 - timedelta(hours=1), title="Checkout down")
        assert "Major outage" in client.get(reverse("status-page")).content.decode()

        incident_post_update(incident=open_p1, label="monitoring", description="A fix is out.", actor=reporter,
                             is_public=True)  # fmt: skip
        assert "A fix is out." in client.get(reverse("status-page")).content.decode()
        incident_transition(incident=open_p1, to_status="resolved", confirm=True, actor=reporter,
                            final_update="Checkout is back.")  # fmt: skip
        html = client.get(reverse("status-page")).content.decode()
        assert "Major outage" not in html
        assert "Checkout down" in html[html.index('id="status-history"') :]

    def test_naming_an_incidents_services_drops_it_once_they_are_named(
        self, api, database, incident, django_capture_on_commit_callbacks
    ):
        """Not also before (each drop writes to the cache twice): an alert storm's every new incident names its
        services."""
        made = incident("P1", T0 - timedelta(hours=1))
        selectors.status_page(now=T0)
        with django_capture_on_commit_callbacks() as callbacks:
            made.services.add(database)
        assert len(callbacks) == 1
        rows = selectors.status_page(now=T0).services
        assert [row.status for row in rows if row.service == database] == ["major_outage"]

    def test_the_next_minute_counts_again(self, client, api, incident, time_machine):
        incident("P1", T0 - timedelta(hours=1))
        today = f'title="{T0:%Y-%m-%d}: '
        before = client.get(reverse("status-page")).content.decode()
        time_machine.move_to(T0 + timedelta(minutes=1), tick=False)
        after = client.get(reverse("status-page")).content.decode()
        # 60 of 720 minutes down, then 61 of 721
        assert (f"{today}91.67%" in before, f"{today}91.54%" in after) == (True, True)


def _link(text: str, name: str) -> str:
    return re.search(rf"https?://\S+/status/{name}/[^/\s]+/", text).group(0)


class TestSubscription:
    def test_subscribe_confirm_receive_public_updates_and_unsubscribe(
        self, client, smtp, api, database, incident, reporter
    ):
        response = client.post(reverse("status-subscribe"), {"email": "pat@example.org", "services": ["api"]})
        assert response.status_code == 200
        assert "We sent a confirmation link to pat@example.org" in response.content.decode()
        assert not Subscription.objects.exists()  # nothing kept until confirmed
        deliver(list(Delivery.objects.values_list("pk", flat=True)))
        [confirmation] = smtp.messages
        assert confirmation["To"] == "pat@example.org"
        confirm = _link(confirmation.get_body(("plain",)).get_content(), "confirm")

        path = confirm.split("://", 1)[1].split("/", 1)[1]
        assert client.get("/" + path).status_code == 200  # a mail scanner opening the link subscribes no one
        assert not Subscription.objects.exists()
        assert "Subscribed: pat@example.org" in client.post("/" + path).content.decode()
        subscription = Subscription.objects.get()
        assert (subscription.public, subscription.active, subscription.confirmed_at is not None) == (True, True, True)
        assert [s.slug for s in subscription.services.all()] == ["api"]

        public = incident("P2", T0, title="Checkout errors")
        incident_acknowledge(incident=public, actor=reporter)  # not public text
        incident_post_update(incident=public, label="identified", description="Internal detail", actor=reporter,
                             is_public=False)  # fmt: skip
        incident_post_update(incident=public, label="identified", description="We found it.", actor=reporter,
                             is_public=True)  # fmt: skip
        # the confirmation and the one public update
        assert Delivery.objects.filter(recipient_key="status:pat@example.org").count() == 2
        deliver(list(Delivery.objects.filter(status=Delivery.Status.QUEUED).values_list("pk", flat=True)))
        [update] = [m for m in smtp.messages if m["To"] == "pat@example.org"][1:]
        text = update.get_body(("plain",)).get_content()
        assert "We found it." in text
        # the status page's words: no internal reference, severity code or routing severity
        assert update["Subject"] == "[Broxiva status] Identified: Checkout errors"
        assert text.splitlines()[0] == "Identified: Checkout errors"
        assert public.reference not in text + update["Subject"] + update.get_body(("html",)).get_content()
        assert "P2" not in text + update["Subject"]
        assert "Internal detail" not in text
        assert "/incidents/" not in text  # no link into the portal
        assert update["List-Unsubscribe"].strip().startswith("<http")
        assert "pat" not in update["List-Unsubscribe"]  # the link signs the row's id, not the address
        assert "Unsubscribe" not in confirmation.get_body(("plain",)).get_content()

        unsubscribe = _link(text, "unsubscribe").split("://", 1)[1].split("/", 1)[1]
        assert "Unsubscribed" in client.post("/" + unsubscribe).content.decode()
        assert not Subscription.objects.exists()

    def test_internal_incidents_never_reach_public_subscribers(self, api, incident, reporter):
        Subscription.objects.create(email="pat@example.org", public=True, event_kinds=["incident.updated"])
        internal = incident("P2", T0, public=False)
        incident_post_update(incident=internal, label="identified", description="x", actor=reporter)
        assert not Delivery.objects.filter(recipient_key__startswith="status:").exists()

    def test_bad_and_expired_links_are_refused(self, client, db, time_machine):
        assert client.post(reverse("status-confirm", args=["forged:token"])).status_code == 400
        token = signing.dumps({"email": "pat@example.org", "services": []}, salt=CONFIRM_SALT)
        time_machine.move_to(T0 + timedelta(days=4), tick=False)
        response = client.post(reverse("status-confirm", args=[token]))
        assert response.status_code == 400
        assert "expired" in response.content.decode()
        assert client.post(reverse("status-unsubscribe", args=["forged:token"])).status_code == 400
        assert not Subscription.objects.exists()

    @pytest.mark.parametrize("action", ["confirm", "unsubscribe"])
    def test_opening_a_bad_or_expired_link_says_so_without_a_button(self, client, db, time_machine, action):
        response = client.get(reverse(f"status-{action}", args=["garbage"]))
        assert response.status_code == 400  # as posting it answers
        page = response.content.decode()
        assert "This link is invalid or has expired" in page
        assert "<button" not in page
        if action == "confirm":
            token = signing.dumps({"email": "pat@example.org", "services": []}, salt=CONFIRM_SALT)
            time_machine.move_to(T0 + timedelta(days=4), tick=False)
            response = client.get(reverse("status-confirm", args=[token]))
            assert response.status_code == 400
            assert "This link is invalid or has expired" in response.content.decode()
            assert "<button" not in response.content.decode()

    def test_opening_a_good_link_offers_the_button(self, client, db):
        token = signing.dumps({"email": "pat@example.org", "services": []}, salt=CONFIRM_SALT)
        response = client.get(reverse("status-confirm", args=[token]))
        assert response.status_code == 200
        assert "Confirm my subscription</button>" in response.content.decode()
        assert not Subscription.objects.exists()
        subscription = Subscription.objects.create(email="pat@example.org", public=True, event_kinds=["x"])
        response = client.get(urlsplit(unsubscribe_url(subscription.pk)).path)
        assert response.status_code == 200
        assert "Unsubscribe</button>" in response.content.decode()

    def test_the_audit_log_records_subscriptions_but_never_their_address(self, client, smtp, api, incident, reporter):
        """Subscribers are members of the public whose address goes when they unsubscribe: it never enters the log."""
        client.post(reverse("status-subscribe"), {"email": "walker3@example.com", "services": ["api"]})
        deliver(list(Delivery.objects.values_list("pk", flat=True)))
        confirm = _link(smtp.messages[0].get_body(("plain",)).get_content(), "confirm")
        client.post(urlsplit(confirm).path)
        subscription = Subscription.objects.get()
        incident_post_update(incident=incident("P2", T0), label="identified", description="Found.", actor=reporter,
                             is_public=True)  # fmt: skip
        deliver(list(Delivery.objects.filter(status=Delivery.Status.QUEUED).values_list("pk", flat=True)))
        update = [m for m in smtp.messages if m["To"] == "walker3@example.com"][1]
        unsubscribe = _link(update.get_body(("plain",)).get_content(), "unsubscribe")
        assert "Unsubscribed" in client.post(urlsplit(unsubscribe).path).content.decode()

        entries = LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Subscription), object_id=subscription.pk
        )
        assert {entry.action for entry in entries} >= {LogEntry.Action.CREATE, LogEntry.Action.DELETE}
        assert {entry.object_repr for entry in entries} == {f"Status-page subscriber #{subscription.pk}"}
        assert LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Delivery)).exists()
        logged = json.dumps(list(LogEntry.objects.values()), default=str)
        logged += "".join(describe_changes(entry.changes_dict) for entry in LogEntry.objects.all())  # as /audit/ shows
        assert "walker3" not in logged.lower()

    def test_a_bad_address_is_named(self, client, db):
        response = client.post(reverse("status-subscribe"), {"email": "not-an-address"})
        assert response.status_code == 400
        assert "email: Enter a valid email address." in response.content.decode()
        assert not Delivery.objects.exists()

    def test_throttled_per_address_on_the_page_and_the_api(self, client, db):
        limited = {**portal_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "subscribe": "2/hour"}
        from django.conf import settings

        with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": limited}):
            codes = [client.post(reverse("status-subscribe"), {"email": f"p{n}@example.org"}).status_code
                     for n in range(3)]  # fmt: skip
            api = APIClient().post(reverse("api:status-subscribe"), {"email": "q@example.org"}, format="json")
        assert codes == [200, 200, 429]
        assert api.status_code == 429
        assert Delivery.objects.count() == 2

    def test_the_api_subscribes_and_confirms_without_login(self, db, api):
        client = APIClient()
        response = client.post(
            reverse("api:status-subscribe"), {"email": "pat@example.org", "services": ["api"]}, format="json"
        )
        assert response.status_code == 202
        token = signing.dumps({"email": "pat@example.org", "services": ["api"]}, salt=CONFIRM_SALT)
        confirmed = client.post(reverse("api:status-confirm"), {"token": token}, format="json")
        assert confirmed.json() == {"email": "pat@example.org", "services": ["api"]}
        assert client.post(reverse("api:status-confirm"), {"token": "x"}, format="json").status_code == 400
        assert Subscription.objects.get().public
