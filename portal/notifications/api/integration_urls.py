"""Included by portal/api_urls.py under integrations/: what Slack and PagerDuty send back."""

from django.urls import path

from portal.notifications.api.integrations import PagerDutyWebhookApi, SlackCommandApi, SlackInteractionApi

urlpatterns = [
    path("slack/commands/", SlackCommandApi.as_view(), name="slack-commands"),
    path("slack/interactions/", SlackInteractionApi.as_view(), name="slack-interactions"),
    path("pagerduty/", PagerDutyWebhookApi.as_view(), name="pagerduty-webhook"),
]
