"""Slack's side of the portal: the app's settings, its Web API, and who a Slack user is in the portal."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests
from django.conf import settings

from portal.accounts.models import User
from portal.notifications.models import SlackApp

USER_AGENT = "BroxivaOpsPortal/1.0"


class SlackApiError(Exception):
    """Slack answered `ok: false` or could not be reached."""


def slack_app() -> SlackApp | None:
    return SlackApp.objects.filter(enabled=True).order_by("pk").first()


def api_call(app: SlackApp, method: str, body: dict[str, Any]) -> dict[str, Any]:
    """One Web API call (`chat.postMessage`, `users.info`, ...) with the bot token."""
    try:
        response = requests.post(
            urljoin(app.api_url.rstrip("/") + "/", method),
            json=body,
            headers={"Authorization": f"Bearer {app.bot_token}", "User-Agent": USER_AGENT},
            timeout=settings.NOTIFICATION_HTTP_TIMEOUT,
        )
        answer = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise SlackApiError(f"{method}: {type(exc).__name__}: {exc}"[:300]) from exc
    if not isinstance(answer, dict) or not answer.get("ok"):
        error = answer.get("error", "unknown error") if isinstance(answer, dict) else "not JSON"
        raise SlackApiError(f"{method}: HTTP {response.status_code}, {error}"[:300])
    return answer


def respond(response_url: str, body: dict[str, Any]) -> None:
    """A delayed answer to a command or a button through its `response_url` (valid 30 minutes, 5 times)."""
    try:
        response = requests.post(
            response_url, json=body, headers={"User-Agent": USER_AGENT}, timeout=settings.NOTIFICATION_HTTP_TIMEOUT
        )
        response.raise_for_status()
    except requests.RequestException as exc:
        raise SlackApiError(f"response_url: {type(exc).__name__}: {exc}"[:300]) from exc


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str  # the handle, without its @


def portal_user(slack_user: SlackUser) -> User | None:
    """The active portal user Slack knows as `slack_user`: by the Slack id learnt before, else by chat handle."""
    users = User.objects.filter(is_active=True)
    if slack_user.id and (user := users.filter(slack_user_id=slack_user.id).first()):
        return user
    if slack_user.name and (user := users.filter(chat_handle__iexact=f"@{slack_user.name}").first()):
        return _learn(user, slack_user)
    return None


def portal_user_by_email(app: SlackApp, slack_user: SlackUser) -> User | None:
    """Ask Slack for the user's email (`users.info`, scope users:read.email) and find the portal user with it."""
    profile = api_call(app, "users.info", {"user": slack_user.id}).get("user", {}).get("profile", {})
    email = profile.get("email", "") if isinstance(profile, dict) else ""
    if not email:
        return None
    user = User.objects.filter(is_active=True, email__iexact=email).order_by("pk").first()
    return _learn(user, slack_user) if user else None


def _learn(user: User, slack_user: SlackUser) -> User:
    if slack_user.id and user.slack_user_id != slack_user.id:
        user.slack_user_id = slack_user.id
        user.save(update_fields=["slack_user_id"])
    return user


def link_your_account(slack_user: SlackUser) -> str:
    return (
        f"Your Slack account is not linked to the Ops Portal. Set your chat handle to @{slack_user.name} (or use "
        f"the same email in both) on your profile at {settings.PORTAL_BASE_URL}, then try again."
    )
