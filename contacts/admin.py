from django.contrib import admin

from contacts.models import Dashboard, DeploymentEnvironment, KeyLink, Team, Vendor
from portal.notifications.admin import KeepSecretsForm
from portal.notifications.secrets import mask_secret


class TeamForm(KeepSecretsForm):
    secrets = ("pagerduty_routing_key",)

    class Meta:
        model = Team
        fields = ["name", "slug", "slack_channel", "email", "pagerduty_routing_key", "description", "position"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamForm
    list_display = ["name", "slug", "slack_channel", "email", "pagerduty"]
    prepopulated_fields = {"slug": ["name"]}

    @admin.display(description="PagerDuty routing key (masked)")
    def pagerduty(self, team: Team) -> str:
        return mask_secret(team.pagerduty_routing_key)


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    list_display = ["name", "support_url", "sla", "priority"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["services"]


@admin.register(DeploymentEnvironment)
class DeploymentEnvironmentAdmin(admin.ModelAdmin):
    list_display = ["environment", "branch", "auto_deploy", "url"]


@admin.register(KeyLink)
class KeyLinkAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "url", "on_incidents"]
    list_filter = ["category", "on_incidents"]


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    list_display = ["name", "url"]
    filter_horizontal = ["services"]
