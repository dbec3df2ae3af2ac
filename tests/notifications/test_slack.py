"""Slack's commands and buttons coming back in: signature checks, user mapping, roles, audit, deferred answers."""

import itertools
import json
import time
from urllib.parse import urlencode

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from rest_framework.test import APIClient

from incidents.models import Incident, Severity, StatusUpdate
from incidents.services import incident_declare
from portal.accounts.roles import Role
from portal.notifications.chatops import slack_deferred_run
from portal.notifications.models import SlackApp
from portal.notifications.signatures import slack_signature
from portal.notifications.slack import respond
from portal.notifications.tasks import slack_respond
from tests.servers import http_server

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TRIGGERS = (f"{n}.42.abc" for n in itertools.count())
COMMANDS, INTERACTIONS = reverse("api:slack-commands"), reverse("api:slack-interactions")


@pytest.fixture
def slack(db):
    return SlackApp.objects.create(name="Slack", signing_secret=SECRET)


@pytest.fixture
def rami(make_user):
    return make_user(Role.RESPONDER, username="rami", chat_handle="@rami.r", email="rami@example.com")


def post(url: str, form: dict[str, str], *, secret: str = SECRET, age: int = 0, headers: dict | None = None):
    body = urlencode(form).encode()
    timestamp = str(int(time.time()) - age)
    signed = {
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp,
        "HTTP_X_SLACK_SIGNATURE": slack_signature(secret=secret, timestamp=timestamp, body=body),
    }
    return APIClient().generic(
        "POST", url, body, content_type="application/x-www-form-urlencoded", **(signed if headers is None else headers)
    )


def command(text: str, *, user_id: str = "U123", user_name: str = "rami.r", name: str = "/incident") -> dict:
    """As Slack posts it; each command has its own trigger_id, so two alike in the same second still differ."""
    return {"command": name, "text": text, "user_id": user_id, "user_name": user_name,
            "response_url": "https://hooks.slack.invalid/commands/1", "trigger_id": next(TRIGGERS)}  # fmt: skip


def declare(title: str = "Checkout errors") -> Incident:
    return incident_declare(title=title, severity=Severity.objects.get(code="P2"), reporter=None)


class TestSignature:
    def test_a_signed_declare_acts_as_the_mapped_user_and_is_audited(self, slack, rami):
        response = post(COMMANDS, command("declare Checkout errors at 4% P2"))

        assert response.status_code == 200
        assert response.json()["response_type"] == "in_channel"
        incident = Incident.objects.get()
        assert (incident.title, incident.severity.code, incident.reporter) == ("Checkout errors at 4%", "P2", rami)
        created = LogEntry.objects.get(content_type=ContentType.objects.get_for_model(Incident), action=0)
        assert created.actor == rami
        rami.refresh_from_db()
        assert rami.slack_user_id == "U123"  # learnt: the handle may change, the id does not

    @pytest.mark.parametrize(
        ("kwargs", "why"),
        # From the future by 302 s: the timestamp is whole seconds, so "301 s ahead" reaches the server up to a second
        # closer, within the five minutes.
        [({"secret": "not-the-secret"}, "does not match"), ({"age": 301}, "five minutes"),
         ({"age": -302}, "five minutes"), ({"headers": {}}, "required")],
        ids=["wrong secret", "stale", "from the future", "unsigned"],
    )  # fmt: skip
    def test_badly_signed_requests_are_401_and_do_nothing(self, slack, rami, kwargs, why):
        response = post(COMMANDS, command("declare Should not exist"), **kwargs)
        assert response.status_code == 401
        assert why in response.json()["detail"]
        assert not Incident.objects.exists()

    def test_a_tampered_body_is_refused(self, slack, rami):
        body = urlencode(command("declare Original")).encode()
        timestamp = str(int(time.time()))
        response = APIClient().generic(
            "POST", COMMANDS, urlencode(command("declare Tampered")), content_type="application/x-www-form-urlencoded",
            HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp,
            HTTP_X_SLACK_SIGNATURE=slack_signature(secret=SECRET, timestamp=timestamp, body=body),
        )  # fmt: skip
        assert response.status_code == 401
        assert not Incident.objects.exists()

    def test_a_replayed_request_is_refused(self, slack, rami):
        body = urlencode(command("declare Once only")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp,
            "HTTP_X_SLACK_SIGNATURE": slack_signature(secret=SECRET, timestamp=timestamp, body=body),
        }
        client = APIClient()
        first = client.generic("POST", COMMANDS, body, content_type="application/x-www-form-urlencoded", **headers)
        again = client.generic("POST", COMMANDS, body, content_type="application/x-www-form-urlencoded", **headers)
        assert (first.status_code, again.status_code) == (200, 401)
        assert Incident.objects.count() == 1

    def test_without_a_configured_app_everything_is_refused(self, db, rami):
        assert post(COMMANDS, command("declare x")).status_code == 401
        assert post(INTERACTIONS, {"payload": "{}"}).status_code == 401


class TestCommands:
    def test_an_unknown_slack_user_is_asked_to_link_their_account(self, slack, rami):
        response = post(COMMANDS, command("declare x", user_id="U999", user_name="stranger"))
        assert response.json()["response_type"] == "ephemeral"
        assert "not linked" in response.json()["text"]
        assert "@stranger" in response.json()["text"]
        assert not Incident.objects.exists()

    def test_a_viewer_may_not_declare(self, slack, make_user):
        make_user(Role.VIEWER, chat_handle="@vic")
        response = post(COMMANDS, command("declare x", user_name="vic"))
        assert response.json()["response_type"] == "ephemeral"
        assert "Responder role" in response.json()["text"]
        assert not Incident.objects.exists()

    def test_ack_takes_the_only_open_incident_and_stops_its_timer(self, slack, rami):
        incident = declare()
        response = post(COMMANDS, command("ack"))
        assert response.json()["response_type"] == "in_channel"
        incident.refresh_from_db()
        assert incident.acknowledged_at is not None
        assert incident.commander == rami
        assert incident.timeline.filter(kind="acknowledged", actor=rami).exists()

    def test_ack_needs_a_name_when_several_are_open(self, slack, rami):
        first, _ = declare("one"), declare("two")
        assert "several are open" in post(COMMANDS, command("ack")).json()["text"]
        post(COMMANDS, command(f"ack {first.reference}"))
        first.refresh_from_db()
        assert first.acknowledged_at is not None
        assert "already acknowledged" in post(COMMANDS, command(f"ack {first.reference}")).json()["text"]

    def test_status_posts_an_update_in_the_template(self, slack, rami):
        incident = declare()
        response = post(COMMANDS, command(f"status {incident.reference} Failing over the primary DB"))
        assert response.json()["response_type"] == "in_channel"
        update = StatusUpdate.objects.get(incident=incident)
        assert (update.label, update.description, update.author) == (
            "investigating", "Failing over the primary DB", rami
        )  # fmt: skip

    def test_oncall_names_who_is_on_call_now(self, slack, rami):
        response = post(COMMANDS, command("", name="/oncall"))
        assert response.status_code == 200
        assert response.json()["response_type"] == "ephemeral"
        assert "primary" in response.json()["text"] or response.json()["text"] == "No rotation is in service."

    def test_unknown_subcommand_gets_the_usage(self, slack, rami):
        assert "Usage" in post(COMMANDS, command("dance")).json()["text"]


def users_info(email: str) -> dict:
    return {"ok": True, "user": {"id": "U777", "profile": {"email": email}}}


class TestUnknownUserWithBotToken:
    def test_the_lookup_goes_to_a_worker_and_the_answer_to_response_url(
        self, slack, rami, django_capture_on_commit_callbacks
    ):
        slack.bot_token = "xoxb-test"
        slack.save()
        with django_capture_on_commit_callbacks() as callbacks:
            response = post(COMMANDS, command("declare From Slack P3", user_id="U777", user_name="rr"))
        assert "Looking you up" in response.json()["text"]
        assert len(callbacks) == 1  # the deferred task, published once the request is done
        assert not Incident.objects.exists()

        routes = {("POST", "/api/users.info"): (200, users_info("RAMI@example.com"))}
        with http_server(routes) as fake_slack:
            slack.api_url = fake_slack.url + "/api/"
            slack.save()
            reply = slack_deferred_run(
                kind="command", payload=command("declare From Slack P3", user_id="U777", user_name="rr")
            )

        assert json.loads(fake_slack.requests[0].body) == {"user": "U777"}
        assert fake_slack.requests[0].headers["Authorization"] == "Bearer xoxb-test"
        assert Incident.objects.get().reporter == rami
        assert reply.public
        rami.refresh_from_db()
        assert rami.slack_user_id == "U777"

    def test_an_email_nobody_has_gets_the_link_answer(self, slack, rami):
        routes = {("POST", "/api/users.info"): (200, users_info("someone@else.example"))}
        with http_server(routes) as fake_slack:
            SlackApp.objects.filter(pk=slack.pk).update(bot_token="xoxb-test", api_url=fake_slack.url + "/api/")
            reply = slack_deferred_run(kind="command", payload=command("declare x", user_id="U8", user_name="x"))
        assert "not linked" in reply.text
        assert not Incident.objects.exists()

    def test_slack_refusing_the_lookup_is_said(self, slack, rami):
        routes = {("POST", "/api/users.info"): (200, {"ok": False, "error": "missing_scope"})}
        with http_server(routes) as fake_slack:
            SlackApp.objects.filter(pk=slack.pk).update(bot_token="xoxb-test", api_url=fake_slack.url + "/api/")
            reply = slack_deferred_run(kind="command", payload=command("declare x", user_id="U8", user_name="x"))
        assert "missing_scope" in reply.text


def button(incident: Incident, *, user_id: str = "U123", username: str = "rami.r", action: str = "incident_ack"):
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": username},
        "actions": [{"action_id": action, "value": str(incident.pk)}],
        "response_url": "https://hooks.slack.invalid/actions/1",
    }
    return {"payload": json.dumps(payload)}


class TestButtons:
    def test_acknowledge_button(self, slack, rami, django_capture_on_commit_callbacks):
        incident = declare()
        with django_capture_on_commit_callbacks() as callbacks:
            response = post(INTERACTIONS, button(incident))
        assert response.status_code == 200
        incident.refresh_from_db()
        assert incident.acknowledged_at is not None
        assert incident.timeline.filter(kind="acknowledged", actor=rami).exists()
        assert len(callbacks) >= 1  # the answer goes to response_url from a worker

    def test_an_unknown_user_pressing_acknowledge_changes_nothing(self, slack, rami):
        incident = declare()
        assert post(INTERACTIONS, button(incident, user_id="U9", username="stranger")).status_code == 200
        incident.refresh_from_db()
        assert incident.acknowledged_at is None

    def test_link_buttons_need_nothing(self, slack, rami):
        incident = declare()
        assert post(INTERACTIONS, button(incident, action="incident_open")).status_code == 200
        incident.refresh_from_db()
        assert incident.acknowledged_at is None

    def test_a_bad_payload_is_a_400_naming_it(self, slack, rami):
        response = post(INTERACTIONS, {"payload": "not json"})
        assert response.status_code == 400
        assert response.json()["field"] == "payload"

    def test_a_forged_button_is_401(self, slack, rami):
        incident = declare()
        assert post(INTERACTIONS, button(incident), secret="forged").status_code == 401
        incident.refresh_from_db()
        assert incident.acknowledged_at is None


def test_answers_reach_response_url():
    with http_server({("POST", "/actions/1"): (200, "ok")}) as fake_slack:
        slack_respond(fake_slack.url + "/actions/1", {"response_type": "ephemeral", "text": "Done"})
        respond(fake_slack.url + "/actions/1", {"text": "again"})
    assert [json.loads(request.body)["text"] for request in fake_slack.requests] == ["Done", "again"]
