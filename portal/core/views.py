from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from maintenance import selectors as maintenance_selectors
from maintenance.policy import active_rules, freeze_status
from operations.selectors.dashboard import operations_summary
from portal.accounts.permissions import role_required
from portal.accounts.roles import Role
from portal.core import attention, health, metrics
from portal.core.filters import AuditLogFilter
from portal.core.pagination import paginate
from portal.core.selectors import audit_chain_state, audit_entries, audit_table_rows
from portal.notifications.models import Delivery

# Open incidents the dashboard lists, most in need first; the rest are a link away (the incident list).
DASHBOARD_INCIDENTS = 20


@require_GET
@vary_on_headers("HX-Request")
def dashboard(request: HttpRequest) -> HttpResponse:
    """The page refreshes its body every 30 s (htmx asks for the partial)."""
    now = timezone.now()
    needs = attention.dashboard_needs(now=now, limit=DASHBOARD_INCIDENTS)
    rules = active_rules()  # read once for the freeze in force and the next one
    maintenance_today, next_maintenance = attention.maintenance_today_and_next(now=now)
    context = {
        "needs": needs,
        "approvals": attention.approvals_for(request.user, now=now),
        "maintenance_today": maintenance_today,
        "next_maintenance": next_maintenance,
        "freeze": freeze_status("production", now, rules=rules),
        "next_freeze": maintenance_selectors.next_freeze(now=now, environment="production", rules=rules),
        "failed_deliveries": Delivery.objects.filter(status=Delivery.Status.FAILED).count(),
        "operations": operations_summary(now=now),
        "oncall": attention.oncall_now_and_next(now=now),
        "now": now,
    }
    return render(request, "core/dashboard.html#dashboard-body" if request.htmx else "core/dashboard.html", context)


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
    page, query = paginate(request, entries.qs, read=audit_table_rows)
    template = "core/audit_log.html#audit-table" if request.htmx else "core/audit_log.html"
    return render(request, template, {"filter": entries, "page": page, "query": query})


@require_GET
@role_required(Role.ADMIN)
def audit_chain(request: HttpRequest) -> HttpResponse:
    """The audit page's hash chain line, loaded by htmx after the page: bringing the last verification up to date
    reads every link added since (up to VERIFY_BATCH), however few entries the page lists."""
    chain = audit_chain_state(now=timezone.now())
    return render(request, "core/audit_log.html#audit-chain", {"chain": chain})


@login_not_required
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus' scrape: a bearer token or an allowed address instead of a user (README "Metrics")."""
    return metrics.metrics_response(request)


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """The icon for pages without an icon link (the admin site): a 404 there would be a console error."""
    return redirect(static("portal/favicon.svg"))
