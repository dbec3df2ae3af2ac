"""Slack and PagerDuty coming back in, end to end: signed requests to a portal process, a real worker over Redis doing
the network work (PagerDuty's REST API, Slack's users.info and response_url, all on loopback)."""

import json

import pytest
from django.db import connection

from incidents.models import Incident, Severity
from incidents.services import incident_declare
from portal.accounts.roles import Role
from portal.notifications.models import InboundEvent, PagerDutyWebhook, SlackApp
from tests.integration.processes import celery_worker, portal_env, run_script, wait_for
from tests.servers import http_server

pytestmark = pytest.mark.integration

# Runs in a portal process: sign and POST as PagerDuty or Slack would, print the answer.
POST_PAGERDUTY = """
import hashlib, hmac, json
from django.test import Client
body = json.dumps({body!r}).encode()
signature = "v1=" + hmac.new(b"whsec-1", body, hashlib.sha256).hexdigest()
response = Client().post("/api/v1/integrations/pagerduty/", body, content_type="application/json",
                         HTTP_X_PAGERDUTY_SIGNATURE=signature)
print(response.status_code, response.content.decode())
"""
POST_SLACK = """
import hashlib, hmac, time
from urllib.parse import urlencode
from django.test import Client
body = urlencode({form!r}).encode()
timestamp = str(int(time.time()))
signature = "v0=" + hmac.new(b"slack-secret", b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
response = Client().post("/api/v1/integrations/slack/commands/", body,
                         content_type="application/x-www-form-urlencoded",
                         HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp, HTTP_X_SLACK_SIGNATURE=signature)
print(response.status_code, response.content.decode())
"""


@pytest.fixture
def services_db(django_db_serialized_rollback, transactional_db):
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    yield
    connection.close()


def test_a_pagerduty_acknowledgement_is_applied_once_by_the_worker(services_db, redis_server, make_user, tmp_path):
    jane = make_user(Role.RESPONDER, username="jane", email="jane@example.com")
    incident = incident_declare(title="Payments failing", severity=Severity.objects.get(code="P1"), reporter=None)
    body = {"event": {"id": "EV1", "event_type": "incident.acknowledged",
                      "agent": {"id": "PJANE", "summary": "Jane Doe"},
                      "data": {"id": "Q1", "type": "incident", "incident_key": f"incident:{incident.pk}"}}}  # fmt: skip
    routes = {("GET", "/users/PJANE"): (200, {"user": {"id": "PJANE", "email": "jane@example.com"}})}
    with http_server(routes) as pagerduty:
        PagerDutyWebhook.objects.create(name="pd", secret="whsec-1", api_token="rest-key", api_url=pagerduty.url)
        env = portal_env(redis_server.url, tmp_path)
        with celery_worker(env, tmp_path / "worker.log"):
            first = run_script(POST_PAGERDUTY.format(body=body), env).stdout
            again = run_script(POST_PAGERDUTY.format(body=body), env).stdout
            done = wait_for(lambda: InboundEvent.objects.filter(status=InboundEvent.Status.DONE).exists(), timeout=60)
            assert done, (tmp_path / "worker.log").read_text()

    assert first.startswith("200")
    assert '"duplicate":false' in first
    assert again.startswith("200")
    assert '"duplicate":true' in again
    incident.refresh_from_db()
    assert (incident.acknowledged_at is not None, incident.commander) == (True, jane)
    assert incident.timeline.filter(kind="acknowledged").count() == 1
    assert [request.path for request in pagerduty.requests] == ["/users/PJANE"]


def test_an_unknown_slack_user_is_found_by_email_and_answered_later(services_db, redis_server, make_user, tmp_path):
    rami = make_user(Role.RESPONDER, username="rami", email="rami@example.com")
    users_info = {"ok": True, "user": {"id": "U42", "profile": {"email": "rami@example.com"}}}
    routes = {("POST", "/api/users.info"): (200, users_info), ("POST", "/response"): (200, "ok")}
    with http_server(routes) as slack:
        SlackApp.objects.create(
            name="Slack", signing_secret="slack-secret", bot_token="xoxb-1", api_url=slack.url + "/api/"
        )
        form = {"command": "/incident", "text": "declare Search is down P2", "user_id": "U42", "user_name": "r",
                "response_url": slack.url + "/response", "trigger_id": "1.2.3"}  # fmt: skip
        env = portal_env(redis_server.url, tmp_path)
        with celery_worker(env, tmp_path / "worker.log"):
            answer = run_script(POST_SLACK.format(form=form), env).stdout
            answered = wait_for(lambda: any(r.path == "/response" for r in slack.requests), timeout=60)
            assert answered, (tmp_path / "worker.log").read_text()

    assert answer.startswith("200")
    assert "Looking you up" in answer
    incident = Incident.objects.get()
    assert (incident.title, incident.severity.code, incident.reporter) == ("Search is down", "P2", rami)
    reply = json.loads(next(r.body for r in slack.requests if r.path == "/response"))
    assert reply["response_type"] == "in_channel"
    assert incident.reference in reply["text"]
    rami.refresh_from_db()
    assert rami.slack_user_id == "U42"
