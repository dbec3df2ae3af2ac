"""The top bar's navigation. It comes in a few variants only (which link is the current page's, whether the Admin
links show), each rendered once per process: every page paid for its nineteen links, each an include and a reverse."""

from functools import lru_cache

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString

# (label, URL name), in the order they show.
LINKS = (
    ("Dashboard", "dashboard"),
    ("Incidents", "incident-list"),
    ("On-call", "oncall-index"),
    ("Maintenance", "maintenance-calendar"),
    ("Freezes", "freeze-calendar"),
    ("Actions", "action-list"),
    ("SLOs", "slo-list"),
    ("Runbooks", "runbook-list"),
    ("Alerts", "alert-catalogue"),
    ("Procedures", "procedure-list"),
    ("Deployments", "deployment-list"),
    ("Checklists", "checklist-list"),
    ("DR & backups", "recovery"),
    ("Notifications", "delivery-list"),
    ("Contacts", "contacts"),
    ("Status page", "status-page"),
)
ADMIN_LINKS = (("Audit", "audit-log"), ("API tokens", "token-list"), ("Lockouts", "lockout-list"))
_NAMES = {name for _, name in LINKS + ADMIN_LINKS}


def main_nav(view_name: str | None, *, is_admin: bool) -> SafeString:
    """The navigation for a page of `view_name` (its link is marked current) and a viewer who is or is not an Admin."""
    current = view_name if view_name in _NAMES else None
    if settings.DEBUG:  # templates reload on change while developing
        return _render(current, is_admin)
    return _rendered(current, is_admin)


def _render(current: str | None, is_admin: bool) -> SafeString:
    links = [(label, reverse(name), name == current) for label, name in LINKS + (ADMIN_LINKS if is_admin else ())]
    return render_to_string("components/main_nav.html", {"links": links})


_rendered = lru_cache(maxsize=None)(_render)
