from django.contrib import admin

from contacts.models import Dashboard, DeploymentEnvironment, KeyLink, Team, Vendor


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "slack_channel", "email"]
    prepopulated_fields = {"slug": ["name"]}


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
