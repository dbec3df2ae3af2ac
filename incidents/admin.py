from django.contrib import admin

from incidents.models import EscalationLevel, EscalationPolicy, Service, Severity


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "owner_team", "tier", "escalation_policy"]
    list_filter = ["tier", "owner_team"]
    search_fields = ["name", "owner_team"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Severity)
class SeverityAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "response_minutes", "after_hours_response_minutes", "resolution_minutes",
                    "update_minutes", "review_required"]  # fmt: skip

    def has_add_permission(self, request: object) -> bool:
        return False  # P1-P4 are fixed; their numbers are editable


class EscalationLevelInline(admin.TabularInline):
    model = EscalationLevel
    extra = 0
    filter_horizontal = ["users"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    """The escalation policy editor: levels, whom they page and when. Running incidents keep their snapshot."""

    list_display = ["name", "is_default"]
    inlines = [EscalationLevelInline]
