"""Alert ownership end to end: an Alertmanager payload posted to a portal process, a real worker over Redis
delivering to loopback Slack webhooks and PagerDuty. A catalogued alert reaches its owner team's channel and
PagerDuty service (with #incidents still told); an alert outside the catalogue keeps the default route."""

import json

import pytest
from django.db import connection

from contacts.models import Team
from incidents.alert_services import integration_create
from portal.notifications.models import Channel, Delivery
from tests.incidents.alertmanager import WEBHOOK, alert, payload
from tests.integration.processes import celery_worker, portal_env, run_script, wait_for
from tests.servers import http_server

pytestmark = pytest.mark.integration

TEAM_KEY = "DBTEAMKEY0000000000000000000000A"
DEFAULT_KEY = "DEFAULTKEY000000000000000000000B"
POST_ALERTS = """
import json
from django.test import Client
response = Client().post({url!r}, json.dumps({body!r}), content_type="application/json",
                         HTTP_AUTHORIZATION="Bearer {token}")
print(response.status_code, response.content.decode())
"""


@pytest.fixture
def receivers(django_db_serialized_rollback, transactional_db):
    """#incidents, the Database team's #broxiva-database (each its own incoming webhook, as Slack gives them) and
    PagerDuty on loopback; every other channel off."""
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    routes = {("POST", path): (200, "ok") for path in ("/incidents", "/database")}
    routes[("POST", "/v2/enqueue")] = (202, {"status": "success", "message": "Event processed"})
    with http_server(routes) as server:
        Channel.objects.update(enabled=False)
        Channel.objects.filter(name="Slack #incidents").update(enabled=True, webhook_url=server.url + "/incidents")
        Channel.objects.filter(name="Slack #broxiva-database").update(
            enabled=True, webhook_url=server.url + "/database"
        )
        Channel.objects.filter(name="PagerDuty").update(
            enabled=True, endpoint_url=server.url + "/v2/enqueue", routing_key=DEFAULT_KEY
        )
        Team.objects.filter(slug="database").update(pagerduty_routing_key=TEAM_KEY)
        yield server
    connection.close()


def received(server, path: str) -> list[dict]:
    return [json.loads(request.body) for request in server.requests if request.path == path]


def test_a_catalogued_alerts_notifications_reach_its_owner_over_http(receivers, redis_server, tmp_path):
    token = integration_create(name="alertmanager-prod", created_by=None).token
    owned = payload(alert("DatabaseDown", service="database", severity="critical"))
    unowned = payload(alert("SomethingOdd", severity="critical"))
    env = portal_env(redis_server.url, tmp_path)

    with celery_worker(env, tmp_path / "worker.log"):
        for body in (owned, unowned):
            answer = run_script(POST_ALERTS.format(url=WEBHOOK, body=body, token=token), env).stdout
            assert answer.startswith("200"), answer
        # Two pages, #incidents told twice, the team's channel once.
        done = wait_for(lambda: Delivery.objects.exclude(status=Delivery.Status.DELIVERED).count() == 0
                        and len(receivers.requests) == 5, timeout=60)  # fmt: skip
        assert done, (tmp_path / "worker.log").read_text()

    team_chat = received(receivers, "/database")
    assert [message["channel"] for message in team_chat] == ["#broxiva-database"]
    assert "DatabaseDown" in team_chat[0]["attachments"][0]["title"]
    told = [message["attachments"][0]["title"] for message in received(receivers, "/incidents")]
    assert sorted("DatabaseDown" in title for title in told) == [False, True]  # #incidents hears of both
    pages = {"DatabaseDown" in page["payload"]["summary"]: page for page in received(receivers, "/v2/enqueue")}
    assert pages[True]["routing_key"] == TEAM_KEY  # the owner's PagerDuty service, not the default one
    assert pages[False]["routing_key"] == DEFAULT_KEY  # not in the catalogue: today's routing
    assert {page["event_action"] for page in pages.values()} == {"trigger"}
    assert Delivery.objects.get(team__slug="database", channel__kind="pager").address == "Database (PagerDuty)"
