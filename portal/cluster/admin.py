from django import forms
from django.contrib import admin
from django.http import HttpRequest

from portal.cluster.models import ActionApproval, ActionRun, Namespace, ProgressLine, Target, Workload


class TargetForm(forms.ModelForm):
    # The URL is a secret: never rendered back into the page; left empty, the stored one is kept.
    url = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
        help_text="Redis or PostgreSQL: the connection URL with its credentials. Leave empty to keep the current one.",
    )

    class Meta:
        model = Target
        fields = [
            "name", "slug", "kind", "environment", "description", "enabled", "context", "min_replicas", "max_replicas",
            "url",
        ]  # fmt: skip

    def clean_url(self) -> str:
        return self.cleaned_data["url"] or (self.instance.url if self.instance.pk else "")


class NamespaceInline(admin.TabularInline):
    model = Namespace
    extra = 0


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin):
    form = TargetForm
    list_display = ["name", "kind", "environment", "enabled", "context", "url_masked"]
    list_filter = ["kind", "environment", "enabled"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["url_masked"]
    inlines = [NamespaceInline]

    @admin.display(description="URL (masked)")
    def url_masked(self, target: Target) -> str:
        return target.url_masked or "—"


@admin.register(Workload)
class WorkloadAdmin(admin.ModelAdmin):
    list_display = ["service", "target", "namespace", "deployment"]
    list_filter = ["target", "service"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ApprovalInline(ReadOnlyInline):
    model = ActionApproval


class ProgressLineInline(ReadOnlyInline):
    model = ProgressLine


@admin.register(ActionRun)
class ActionRunAdmin(admin.ModelAdmin):
    """Runs change only through their services (policy, locks, timeline): read-only here."""

    list_display = ["__str__", "status", "environment", "requested_by", "incident", "created_at"]
    list_filter = ["status", "kind", "environment", "target"]
    search_fields = ["reason", "command"]
    inlines = [ApprovalInline, ProgressLineInline]
    exclude = ["secret_value"]  # a secret's typed value is never shown, not even to Admins

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
