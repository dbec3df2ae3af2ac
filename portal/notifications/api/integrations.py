"""What Slack and PagerDuty send back: public endpoints authenticated by their signatures, not by a portal token.

Nothing is done for a request whose signature does not check out (401). Slack must have its answer within 3 s: work
that needs the network (asking Slack who an unknown user is, answering a button) goes to Celery.
"""

import json
from urllib.parse import parse_qsl

from django.core.cache import cache
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.core.api import fields
from portal.core.api.schema import error_response
from portal.notifications import chatops
from portal.notifications.models import PagerDutyWebhook
from portal.notifications.signatures import SLACK_MAX_AGE_SECONDS, pagerduty_matches, slack_refusal
from portal.notifications.slack import SlackUser, link_your_account, portal_user, slack_app
from portal.notifications.tasks import pagerduty_event_process, slack_deferred, slack_respond


class Unauthorized(Response):
    def __init__(self, detail: str) -> None:
        super().__init__({"detail": detail}, status=401)


def _slack_refusal(request: Request) -> str:
    """Why this is not a fresh request signed by our Slack app ("" when it is)."""
    app = slack_app()
    if app is None:
        return "The Slack app is not configured in the portal."
    signature = request.headers.get("X-Slack-Signature", "")
    refusal = slack_refusal(
        secret=app.signing_secret,
        timestamp=request.headers.get("X-Slack-Request-Timestamp", ""),
        signature=signature,
        body=request.body,
        now=timezone.now(),
    )
    # The same signed request twice within its validity is a replay: only the first is acted on.
    if not refusal and not cache.add(f"slack-signature:{signature}", True, timeout=2 * SLACK_MAX_AGE_SECONDS):
        refusal = "This request was received before (a replay)."
    return refusal


def _slack_answer(kind: str, payload: dict[str, str]) -> chatops.Reply | None:
    slack_user = SlackUser(id=payload.get("user_id", ""), name=payload.get("user_name", ""))
    user = portal_user(slack_user)
    if user is not None:
        return chatops.slack_reply(kind=kind, payload=payload, user=user)
    app = slack_app()
    if app is not None and app.bot_token and payload.get("response_url"):
        slack_deferred.delay_on_commit(kind, payload)
        return chatops.Reply("Looking you up in Slack; the answer follows in a moment.")
    return chatops.Reply(link_your_account(slack_user))


class SlackCommandInput(serializers.Serializer):
    """The form Slack posts for a slash command (other fields are accepted and ignored)."""

    command = fields.LineField(help_text="/incident or /oncall")
    text = fields.TextField(required=False, allow_blank=True)
    user_id = fields.LineField()
    user_name = fields.LineField()
    response_url = serializers.URLField(required=False)


class SlackReplyOutput(serializers.Serializer):
    response_type = serializers.ChoiceField(choices=["ephemeral", "in_channel"])
    text = serializers.CharField()


class SlackCommandApi(APIView):
    """Slack's slash commands: `/incident declare <title> [P1-P4]`, `/incident ack [INC-n]`, `/incident status
    [INC-n] <text>`, `/oncall`. Signed by Slack (`X-Slack-Signature`); acts as the portal user with the Slack user's
    chat handle or email, with that user's roles."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser]

    @extend_schema(
        auth=[],
        request={"application/x-www-form-urlencoded": SlackCommandInput},
        responses={
            200: SlackReplyOutput,
            401: error_response("Not signed by the portal's Slack app, signed too long ago, or a replay."),
        },
    )
    def post(self, request: Request) -> Response:
        if refusal := _slack_refusal(request):
            return Unauthorized(refusal)
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        reply = _slack_answer("command", form) or chatops.Reply(chatops.USAGE)
        return Response(reply.as_slack())


class SlackInteractionInput(serializers.Serializer):
    payload = fields.TextField(help_text="Slack's interaction payload, JSON.")


class SlackInteractionApi(APIView):
    """Slack's interactivity requests: the buttons on incident messages (Acknowledge; the link buttons need
    nothing). Signed by Slack; the answer goes to the payload's `response_url`."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser]

    @extend_schema(
        auth=[],
        request={"application/x-www-form-urlencoded": SlackInteractionInput},
        responses={
            200: None,
            400: error_response("The payload is not Slack's interaction JSON."),
            401: error_response("Not signed by the portal's Slack app, signed too long ago, or a replay."),
        },
    )
    def post(self, request: Request) -> Response:
        if refusal := _slack_refusal(request):
            return Unauthorized(refusal)
        try:
            payload = json.loads(dict(parse_qsl(request.body.decode("utf-8", "replace"))).get("payload", ""))
            user, actions = payload["user"], payload.get("actions") or [{}]
            pressed = {
                "user_id": str(user["id"]),
                "user_name": str(user.get("username") or user.get("name") or ""),
                "action_id": str(actions[0].get("action_id", "")),
                "value": str(actions[0].get("value", "")),
                "response_url": str(payload.get("response_url", "")),
            }
        except (ValueError, KeyError, TypeError, AttributeError, IndexError):
            return Response({"detail": "Expected Slack's interaction payload.", "field": "payload"}, status=400)
        reply = _slack_answer("button", pressed)
        if reply is not None and pressed["response_url"]:
            slack_respond.delay_on_commit(pressed["response_url"], {**reply.as_slack(), "replace_original": False})
        return Response(status=200)


class PagerDutyEventOutput(serializers.Serializer):
    event = serializers.CharField(help_text="PagerDuty's event id.")
    duplicate = serializers.BooleanField(help_text="Received before: nothing more is done.")


class PagerDutyWebhookApi(APIView):
    """PagerDuty V3 webhooks (`incident.acknowledged`, `incident.resolved`, `incident.reassigned`) about incidents the
    portal paged for. Signed with a subscription's secret (`X-PagerDuty-Signature: v1=...`, several while a secret
    rotates); each event is acted on once, by a worker."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    @extend_schema(
        auth=[],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            200: PagerDutyEventOutput,
            400: error_response("The body is not a V3 webhook event."),
            401: error_response("X-PagerDuty-Signature is missing or made with no subscription's secret."),
        },
    )
    def post(self, request: Request) -> Response:
        header, body = request.headers.get("X-PagerDuty-Signature", ""), request.body
        webhook = next(
            (
                hook
                for hook in PagerDutyWebhook.objects.filter(enabled=True).order_by("pk")
                if pagerduty_matches(secrets=[hook.secret], header=header, body=body)
            ),
            None,
        )
        if webhook is None:
            return Unauthorized("X-PagerDuty-Signature is missing or made with no subscription's secret.")
        try:
            payload = json.loads(body)
        except ValueError:
            return Response({"detail": "The body is not JSON.", "field": "event"}, status=400)
        if not isinstance(payload, dict):
            return Response({"detail": "Expected a V3 webhook event.", "field": "event"}, status=400)
        record, created = chatops.pagerduty_event_record(payload=payload)
        if created:
            pagerduty_event_process.delay_on_commit(record.pk, webhook.pk)
        return Response({"event": record.event_id, "duplicate": not created})
