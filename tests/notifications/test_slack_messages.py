"""Slack messages people can act on: Block Kit over plain webhooks, and with the bot token a root message per incident
and channel, edited as the incident changes, with the updates in its thread. Slack is a loopback server."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from incidents.models import Incident, Severity
from incidents.services import incident_acknowledge, incident_declare, incident_post_update
from portal.accounts.roles import Role
from portal.notifications.delivery import deliver
from portal.notifications.models import Channel, ChatThread, Delivery, EventKind, Notification, SlackApp
from tests.notifications.conftest import CHAT_PATH
from tests.servers import http_server

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def send_queued() -> None:
    deliver(list(Delivery.objects.filter(status=Delivery.Status.QUEUED).values_list("pk", flat=True)))


def slack_bodies(server, path: str) -> list[dict]:
    return [json.loads(request.body) for request in server.requests if request.path == path]


def blocks_of(body: dict, kind: str) -> list[dict]:
    return [block for block in body["blocks"] if block["type"] == kind]


@pytest.fixture
def responder(make_user):
    return make_user(Role.RESPONDER, username="rami", chat_handle="@rami")


@pytest.fixture
def declare(live_channels, responder, time_machine):
    time_machine.move_to(T0, tick=False)

    def make(code: str = "P2") -> Incident:
        return incident_declare(title="Checkout errors", severity=Severity.objects.get(code=code), reporter=responder)

    return make


def test_webhook_messages_about_incidents_carry_block_kit(declare, receiver):
    incident = declare("P2")
    send_queued()

    body = next(body for body in slack_bodies(receiver, CHAT_PATH) if body["channel"] == "#incidents")
    [header] = blocks_of(body, "header")
    assert header["text"]["text"] == f"{incident.reference} [P2] Checkout errors"
    fields = {
        field["text"].split("\n")[0]: field["text"].split("\n")[1] for field in blocks_of(body, "section")[0]["fields"]
    }
    assert fields["*Severity*"] == "P2 High"
    assert fields["*Status*"] == "Detection &amp; triage"
    assert fields["*Commander*"] == "nobody yet"
    assert fields["*Acknowledge by*"].startswith(f"<!date^{int((T0 + timedelta(minutes=5)).timestamp())}^")
    [actions] = blocks_of(body, "actions")
    buttons = {button["action_id"]: button for button in actions["elements"]}
    assert buttons["incident_ack"]["value"] == str(incident.pk)
    assert buttons["incident_update"]["url"].endswith(f"/incidents/{incident.pk}/#status-update")
    assert buttons["incident_open"]["url"].endswith(f"/incidents/{incident.pk}/")
    assert body["attachments"][0]["title"].startswith(incident.reference)  # the plain text stays for old clients


def test_messages_about_other_things_have_no_incident_blocks(live_channels, receiver):
    from portal.notifications.services import notify

    notify(event=EventKind.TEST, severity="info", title="hello")
    send_queued()
    assert "blocks" not in slack_bodies(receiver, CHAT_PATH)[0]


@pytest.fixture
def web_api():
    """Slack's Web API on loopback: every post lands in channel C0INC with a fresh ts."""
    routes = {
        ("POST", "/api/chat.postMessage"): (200, {"ok": True, "channel": "C0INC", "ts": "1700000000.000100"}),
        ("POST", "/api/chat.update"): (200, {"ok": True, "channel": "C0INC", "ts": "1700000000.000100"}),
    }
    with http_server(routes) as server:
        yield server


@pytest.fixture
def bot(db, web_api):
    return SlackApp.objects.create(
        name="Slack", signing_secret="s", bot_token="xoxb-1-bot", api_url=web_api.url + "/api/"
    )


def test_with_a_bot_token_the_root_message_is_edited_and_updates_threaded(declare, bot, web_api, receiver, responder):
    incident = declare("P2")
    send_queued()

    roots = slack_bodies(web_api, "/api/chat.postMessage")
    assert {body["channel"] for body in roots} == {"#critical", "#incidents"}  # one root per channel
    assert all(request.headers["Authorization"] == "Bearer xoxb-1-bot" for request in web_api.requests)
    assert slack_bodies(receiver, CHAT_PATH) == []  # no webhook used
    thread = ChatThread.objects.get(source=f"incident:{incident.pk}", channel__name="Slack #incidents")
    assert (thread.slack_channel, thread.ts) == ("C0INC", "1700000000.000100")
    web_api.requests.clear()

    incident_acknowledge(incident=incident, actor=responder, now=T0 + timedelta(minutes=2))
    incident_post_update(incident=incident, label="identified", description="Bad deploy; rolling back",
                         actor=responder, now=T0 + timedelta(minutes=3))  # fmt: skip
    send_queued()

    updates = slack_bodies(web_api, "/api/chat.update")
    assert updates
    assert all((body["channel"], body["ts"]) == ("C0INC", "1700000000.000100") for body in updates)
    latest = updates[-1]
    fields = " ".join(field["text"] for field in blocks_of(latest, "section")[0]["fields"])
    assert "@rami" in fields  # the commander, once acknowledged
    assert "incident_ack" not in json.dumps(latest)  # nothing left to acknowledge
    replies = [body for body in slack_bodies(web_api, "/api/chat.postMessage") if body.get("thread_ts")]
    assert any("Bad deploy; rolling back" in body["text"] for body in replies)
    assert all(body["thread_ts"] == "1700000000.000100" for body in replies)
    assert not [body for body in slack_bodies(web_api, "/api/chat.postMessage") if not body.get("thread_ts")]


def test_a_chat_channel_needs_no_webhook_once_the_bot_posts(db, bot):
    channel = Channel(name="Slack #war-room", kind=Channel.Kind.CHAT, chat_channel="#war-room")
    assert channel.configuration_errors() == {}
    bot.bot_token = ""
    bot.save()
    assert "webhook_url" in channel.configuration_errors()


@pytest.mark.parametrize(("error", "status"), [("channel_not_found", "failed"), ("ratelimited", "queued")])
def test_slack_errors_fail_for_good_or_retry(live_channels, error, status):
    from portal.notifications.services import notify

    with http_server({("POST", "/api/chat.postMessage"): (200, {"ok": False, "error": error})}) as server:
        SlackApp.objects.create(name="Slack", signing_secret="s", bot_token="xoxb-1", api_url=server.url + "/api/")
        notification = notify(event=EventKind.TEST, severity="info", title="hello")
        send_queued()
    row = Notification.objects.get(pk=notification.pk).deliveries.get()
    assert row.status == status
    assert error in row.last_error
    assert "xoxb-1" not in row.last_error
