"""On-call in the Django admin: read-only, because every change goes through the services (the on-call pages and
API), which validate it, keep the history and notify people."""

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from oncall.models import Handoff, Override, Rotation, RotationVersion, Swap


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class VersionInline(ReadOnly, admin.TabularInline):
    model = RotationVersion
    fields = ["effective_from", "timezone", "handoff_rrule", "handoff_time", "start_date", "note"]
    extra = 0


@admin.register(Rotation)
class RotationAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["name", "lead", "archived_at"]
    search_fields = ["name"]
    inlines = [VersionInline]


@admin.register(Override)
class OverrideAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["rotation", "layer", "user", "start", "end", "reason"]
    list_filter = ["rotation", "layer"]


@admin.register(Swap)
class SwapAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["rotation", "requester", "counterparty", "start", "counterparty_start", "status"]
    list_filter = ["status", "rotation"]


@admin.register(Handoff)
class HandoffAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["rotation", "at", "outgoing", "incoming", "acknowledged_at", "lead_notified_at"]
    list_filter = ["rotation"]
