from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from portal.errors import ApplicationError
from portal.notifications.models import Channel, Delivery, Notification, RoutingRule, Subscription
from portal.notifications.services import delivery_retry


class RoutingRuleInline(admin.TabularInline):
    model = RoutingRule
    extra = 0


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "enabled", "chat_channel"]
    list_filter = ["kind", "enabled"]
    inlines = [RoutingRuleInline]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["severity", "channel"]
    list_filter = ["severity"]


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
