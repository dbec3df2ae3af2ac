from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from incidents.selectors import open_incidents as open_incidents_selector
from maintenance import selectors as maintenance_selectors
from maintenance.policy import active_rules, freeze_status
from oncall.selectors import oncall_now
from operations.selectors.dashboard import operations_summary
from portal.accounts.permissions import role_required
from portal.accounts.roles import Role
from portal.core import health
from portal.core.filters import AuditLogFilter
from portal.core.pagination import paginate
from portal.core.selectors import audit_chain_state, audit_entries
from portal.notifications.models import Delivery


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    open_incidents = open_incidents_selector()
    rules = active_rules()  # read once for the freeze in force and the next one
    context = {
        "next_maintenance": maintenance_selectors.next_maintenance(now=now),
        "freeze": freeze_status("production", now, rules=rules),
        "next_freeze": maintenance_selectors.next_freeze(now=now, environment="production", rules=rules),
        "open_count": open_incidents.count(),
        "open_incidents": open_incidents.order_by("severity__rank", "-detected_at")[:8],
        "failed_deliveries": Delivery.objects.filter(status=Delivery.Status.FAILED).count(),
        "operations": operations_summary(now=now),
        "oncall": oncall_now(at=now),
        "now": now,
    }
    return render(request, "core/dashboard.html", context)


@require_GET
def system_health(request: HttpRequest) -> HttpResponse:
    """The dashboard's component panel, loaded by htmx after the page so slow probes do not delay it."""
    overall, components = health.detailed_health()
    return render(request, "core/dashboard.html#system-health", {"overall": overall, "components": components})


@require_GET
@role_required(Role.ADMIN)
@vary_on_headers("HX-Request")
def audit_log(request: HttpRequest) -> HttpResponse:
    entries = AuditLogFilter(request.GET, queryset=audit_entries())
    page, query = paginate(request, entries.qs)
    if request.htmx:
        return render(request, "core/audit_log.html#audit-table", {"filter": entries, "page": page, "query": query})
    chain = audit_chain_state(now=timezone.now())
    return render(request, "core/audit_log.html", {"filter": entries, "page": page, "query": query, "chain": chain})


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """The icon for pages without an icon link (the admin site): a 404 there would be a console error."""
    return redirect(static("portal/favicon.svg"))
