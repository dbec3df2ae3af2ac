from datetime import UTC, datetime, timedelta

import pytest

from incidents.models import Service
from maintenance.models import FreezeRule, MaintenanceWindow
from maintenance.services import window_create
from portal.accounts.roles import Role
from portal.notifications.models import EventKind, Subscription
from tests.servers import smtp_server

SMTP = "django.core.mail.backends.smtp.EmailBackend"
# A Monday in November 2026, the week before the Black Friday freeze.
T0 = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
MAINTENANCE_EVENTS = [kind.value for kind in EventKind if kind.value.startswith("maintenance.")]


@pytest.fixture(autouse=True)
def clock(time_machine):
    """These tests speak of "now" as T0 (windows "in the future", exceptions "not over yet"): so does the code."""
    time_machine.move_to(T0, tick=False)


@pytest.fixture
def api(db) -> Service:
    return Service.objects.create(name="API", slug="api", tier=Service.Tier.CRITICAL)


@pytest.fixture
def database(db) -> Service:
    return Service.objects.create(name="Database", slug="database", tier=Service.Tier.CRITICAL)


@pytest.fixture
def admin(make_user):
    return make_user(Role.ADMIN, username="ada", email="ada@example.com")


@pytest.fixture
def commander(make_user):
    return make_user(Role.INCIDENT_COMMANDER, username="cora", email="cora@example.com")


@pytest.fixture
def responder(make_user):
    return make_user(Role.RESPONDER, username="rami", email="rami@example.com")


@pytest.fixture
def standard(db, api) -> MaintenanceWindow:
    """The seeded weekly window (Tuesday 02:00-04:00 UTC, 24 h notice), affecting the API."""
    window = MaintenanceWindow.objects.get(name="Standard updates")
    window.services.set([api])
    return window


@pytest.fixture
def one_off(api, admin):
    def make(start: datetime = T0 + timedelta(days=3), hours: int = 2, **fields) -> MaintenanceWindow:
        fields.setdefault("name", "Load balancer swap")
        return window_create(
            kind="one_off",
            actor=admin,
            starts_at=start,
            duration=timedelta(hours=hours),
            notice_lead=fields.pop("notice_lead", timedelta(hours=24)),
            services=fields.pop("services", [api]),
            now=fields.pop("now", T0),
            **fields,
        )

    return make


@pytest.fixture
def subscriber(db, api):
    """A mailing list subscribed to maintenance events on the API."""
    subscription = Subscription.objects.create(email="stakeholders@example.com", event_kinds=MAINTENANCE_EVENTS)
    subscription.services.set([api])
    return subscription


@pytest.fixture
def smtp(settings):
    with smtp_server() as server:
        settings.EMAIL_BACKEND = SMTP
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        yield server


@pytest.fixture
def no_seeded_freezes(db):
    FreezeRule.objects.all().delete()
