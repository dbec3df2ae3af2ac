from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "portal.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from portal.notifications.models import (
            Channel,
            Delivery,
            InboundEvent,
            PagerDutyWebhook,
            RoutingRule,
            SlackApp,
            Subscription,
        )

        # Its secrets are stored encrypted; the log shows them masked as the API does, never in clear.
        auditlog.register(
            Channel,
            mask_fields=["webhook_url", "routing_key", "auth_token"],
            mask_callable="portal.notifications.secrets.mask_secret",
        )
        secrets = {SlackApp: ["signing_secret", "bot_token"], PagerDutyWebhook: ["secret", "api_token"]}
        for model, fields in secrets.items():
            auditlog.register(model, mask_fields=fields, mask_callable="portal.notifications.secrets.mask_secret")
        auditlog.register(InboundEvent, include_fields=["status", "result"])
        auditlog.register(RoutingRule)
        # Status-page subscribers' addresses stay out of the log (their __str__ omits it too): unsubscribing deletes
        # them. Mailing lists' addresses still show in their __str__.
        auditlog.register(Subscription, exclude_fields=["email"], m2m_fields={"services"})
        # Status changes only: the worker's bookkeeping (timestamps, attempts) would drown the log.
        auditlog.register(Delivery, include_fields=["status"])

        from portal.core.filters import FILTER_FORMS

        FILTER_FORMS.invalidate_on_change(Channel)  # the delivery filters' options
