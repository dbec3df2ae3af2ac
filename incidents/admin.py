from django.contrib import admin
from django.db.models import QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from incidents.alert_services import IssuedIntegration, integration_create, integration_rotate_token
from incidents.models import (
    Alert,
    AlertGroup,
    EscalationLevel,
    EscalationPolicy,
    Integration,
    Service,
    Severity,
    SuppressionRule,
)


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


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    """Adding an integration or rotating its token shows the token once, on a page of its own (not in a message
    cookie); only its hash is stored."""

    list_display = ["name", "kind", "grouping_labels", "enabled", "token_prefix", "token_issued_at", "last_used_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "token_prefix"]
    actions = ["rotate_token"]
    shown_fields = ["token_prefix", "token_issued_at", "created_by", "created_at", "last_used_at"]

    def get_fields(self, request: HttpRequest, obj: Integration | None = None) -> list[str]:
        fields = ["name", "kind", "grouping_labels"]
        return fields if obj is None else [*fields, "enabled", *self.shown_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Integration | None = None) -> list[str]:
        return [] if obj is None else ["kind", *self.shown_fields]

    def save_model(self, request: HttpRequest, obj: Integration, form: Form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = integration_create(
            name=obj.name, kind=obj.kind, grouping_labels=obj.grouping_labels, created_by=request.user
        )
        # The admin logs and redirects with the object it built; point it at the row the service created.
        obj.pk = issued.integration.pk
        obj.issued = issued

    def response_add(
        self, request: HttpRequest, obj: Integration, post_url_continue: str | None = None
    ) -> HttpResponse:
        return self._show_tokens(request, [obj.issued])

    @admin.action(description="Rotate the token of the selected integrations")
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Integration]) -> HttpResponse:
        return self._show_tokens(request, [integration_rotate_token(integration=item) for item in queryset])

    def _show_tokens(self, request: HttpRequest, issued: list[IssuedIntegration]) -> HttpResponse:
        context = {**self.admin_site.each_context(request), "title": "Copy the token now", "issued": issued}
        response = render(request, "admin/incidents/integration_tokens.html", context)
        add_never_cache_headers(response)
        return response


@admin.register(SuppressionRule)
class SuppressionRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "enabled", "source_matchers", "target_matchers", "equal"]
    list_filter = ["enabled"]
    search_fields = ["name", "description"]


@admin.register(AlertGroup)
class AlertGroupAdmin(admin.ModelAdmin):
    """Written by the alert intake only."""

    list_display = ["key", "integration", "incident", "alert_count", "is_open", "last_alert_at"]
    list_filter = ["integration"]
    list_select_related = ["integration", "incident"]
    search_fields = ["key"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AlertGroup | None = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    """Written by the alert intake only."""

    list_display = ["alertname", "status", "service_label", "incident", "suppressed_by", "last_received_at"]
    list_filter = ["status", "integration", "suppression_rule"]
    search_fields = ["fingerprint", "alertname", "service_label"]
    list_select_related = ["incident", "suppressed_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
