from django.contrib import admin

from oncall.models import Handoff, Override, Rotation, RotationVersion, Swap


class VersionInline(admin.TabularInline):
    """Versions are history: read here, changed through the rotation pages or API, which add a new one."""

    model = RotationVersion
    fields = ["effective_from", "timezone", "handoff_rrule", "handoff_time", "start_date", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Rotation)
class RotationAdmin(admin.ModelAdmin):
    list_display = ["name", "lead", "archived_at"]
    search_fields = ["name"]
    filter_horizontal = ["services"]
    inlines = [VersionInline]


@admin.register(Override)
class OverrideAdmin(admin.ModelAdmin):
    list_display = ["rotation", "layer", "user", "start", "end", "reason"]
    list_filter = ["rotation", "layer"]


@admin.register(Swap)
class SwapAdmin(admin.ModelAdmin):
    list_display = ["rotation", "requester", "counterparty", "start", "counterparty_start", "status"]
    list_filter = ["status", "rotation"]
    readonly_fields = ["start", "end", "counterparty_start", "counterparty_end"]


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    list_display = ["rotation", "at", "outgoing", "incoming", "acknowledged_at", "lead_notified_at"]
    list_filter = ["rotation"]
