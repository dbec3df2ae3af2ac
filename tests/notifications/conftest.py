import pytest

from incidents.models import Service
from portal.notifications.models import Channel
from tests.servers import http_server, smtp_server

SMTP = "django.core.mail.backends.smtp.EmailBackend"
PAGER_PATH, CHAT_PATH, SMS_PATH = "/v2/enqueue", "/services/T000/B000/XXXX", "/sms"


@pytest.fixture
def api_service(db):
    return Service.objects.create(name="API", slug="api", tier=Service.Tier.CRITICAL)


@pytest.fixture
def receiver():
    """One loopback HTTP server playing Slack, PagerDuty and the SMS gateway."""
    routes = {
        ("POST", CHAT_PATH): (200, "ok"),
        ("POST", PAGER_PATH): (202, {"status": "success", "message": "Event processed", "dedup_key": "x"}),
        ("POST", SMS_PATH): (200, {"id": "sms-1", "status": "queued"}),
    }
    with http_server(routes) as server:
        yield server


@pytest.fixture
def smtp(settings):
    with smtp_server() as server:
        settings.EMAIL_BACKEND = SMTP
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        yield server


@pytest.fixture
def live_channels(db, receiver, settings):
    """The seeded channels, enabled and pointed at the loopback receiver."""
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 0
    for channel in Channel.objects.all():
        if channel.kind == Channel.Kind.CHAT:
            channel.webhook_url = receiver.url + CHAT_PATH
        elif channel.kind == Channel.Kind.PAGER:
            channel.endpoint_url, channel.routing_key = receiver.url + PAGER_PATH, "R0UT1NGKEY0000000000000000000000"
        elif channel.kind == Channel.Kind.SMS:
            channel.endpoint_url, channel.auth_token = receiver.url + SMS_PATH, "gateway-token"
        channel.enabled = True
        channel.full_clean()
        channel.save()
    return {channel.name: channel for channel in Channel.objects.all()}
