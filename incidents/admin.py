from django.contrib import admin

from incidents.models import Service


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "owner_team", "tier"]
    list_filter = ["tier", "owner_team"]
    search_fields = ["name", "owner_team"]
    prepopulated_fields = {"slug": ["name"]}
