from django.contrib import admin

from contacts.models import Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "slack_channel", "email"]
    prepopulated_fields = {"slug": ["name"]}
