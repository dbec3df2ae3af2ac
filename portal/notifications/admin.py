from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from portal.errors import ApplicationError
from portal.notifications.models import (
    Channel,
    Delivery,
    EventKind,
    InboundEvent,
    Notification,
    PagerDutyWebhook,
    RoutingRule,
    Severity,
    SlackApp,
    Subscription,
)
from portal.notifications.secrets import mask_secret
from portal.notifications.services import delivery_retry, routed_channels


class RoutingRuleInline(admin.TabularInline):
    model = RoutingRule
    extra = 0


class RoutePreviewForm(forms.Form):
    event = forms.ChoiceField(choices=EventKind.choices)
    severity = forms.ChoiceField(choices=Severity.choices)


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["severity", "kinds", "channel"]
    list_filter = ["severity", "channel"]
    change_list_template = "admin/notifications/routingrule/change_list.html"

    @admin.display(description="Event kinds")
    def kinds(self, rule: RoutingRule) -> str:
        return ", ".join(rule.event_kinds) or "every kind"

    def get_urls(self) -> list[URLPattern]:
        preview = self.admin_site.admin_view(self.preview_view)
        return [path("preview/", preview, name="notifications_routingrule_preview"), *super().get_urls()]

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """What goes where for a sample event, disabled channels included (they would send nothing)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = RoutePreviewForm(request.GET or None)
        channels = None
        if form.is_valid():
            channels = routed_channels(
                event=form.cleaned_data["event"], severity=form.cleaned_data["severity"], enabled_only=False
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "What goes where",
            "form": form,
            "channels": channels,
        }
        return TemplateResponse(request, "admin/notifications/routingrule/preview.html", context)


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "active", "created_at"]
    list_filter = ["active"]
    filter_horizontal = ["services"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the notifications service only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["title", "event_kind", "severity", "created_at"]
    list_filter = ["event_kind", "severity"]
    search_fields = ["title", "source"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["notification", "channel", "address", "status", "attempts", "updated_at"]
    list_filter = ["status", "channel"]
    actions = ["retry"]

    @admin.action(description="Retry the selected failed deliveries")
    def retry(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        for delivery in queryset:
            try:
                delivery_retry(delivery=delivery, actor=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"{delivery}: {exc.message}", messages.WARNING)


class KeepSecretsForm(forms.ModelForm):
    """Secret fields are never rendered back into the page; left empty on a change, the stored value is kept."""

    secrets: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.secrets:
            field = self.fields[name]
            field.widget = forms.PasswordInput(render_value=False)
            if self.instance.pk:
                field.required = False
                field.help_text += " Leave empty to keep the stored one."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk:
            stored = type(self.instance).objects.get(pk=self.instance.pk)
            for name in self.secrets:
                cleaned[name] = cleaned.get(name) or getattr(stored, name)
        return cleaned


class SlackAppForm(KeepSecretsForm):
    secrets = ("signing_secret", "bot_token")

    class Meta:
        model = SlackApp
        fields = ["name", "enabled", "signing_secret", "bot_token", "api_url"]


class PagerDutyWebhookForm(KeepSecretsForm):
    secrets = ("secret", "api_token")

    class Meta:
        model = PagerDutyWebhook
        fields = ["name", "enabled", "secret", "api_token", "api_url"]


class ChannelForm(KeepSecretsForm):
    secrets = ("webhook_url", "routing_key", "auth_token")


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["name", "kind", "enabled", "chat_channel", "masked"]
    list_filter = ["kind", "enabled"]
    inlines = [RoutingRuleInline]

    @admin.display(description="Secrets (masked)")
    def masked(self, channel: Channel) -> str:
        return _masked(channel, ChannelForm.secrets)


def _masked(obj: Channel | SlackApp | PagerDutyWebhook, names: tuple[str, ...]) -> str:
    return ", ".join(f"{name}: {mask_secret(value)}" for name in names if (value := getattr(obj, name)))


@admin.register(SlackApp)
class SlackAppAdmin(admin.ModelAdmin):
    form = SlackAppForm
    list_display = ["name", "enabled", "api_url", "masked"]

    @admin.display(description="Secrets (masked)")
    def masked(self, app: SlackApp) -> str:
        return _masked(app, SlackAppForm.secrets)


@admin.register(PagerDutyWebhook)
class PagerDutyWebhookAdmin(admin.ModelAdmin):
    form = PagerDutyWebhookForm
    list_display = ["name", "enabled", "api_url", "masked"]

    @admin.display(description="Secrets (masked)")
    def masked(self, webhook: PagerDutyWebhook) -> str:
        return _masked(webhook, PagerDutyWebhookForm.secrets)


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdmin):
    list_display = ["event_type", "source", "event_id", "status", "result", "received_at"]
    list_filter = ["source", "status", "event_type"]
    search_fields = ["event_id"]
