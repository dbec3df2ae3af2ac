from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from contacts import selectors
from contacts.models import KeyLink
from incidents.policy import GUIDE_ONCALL_CHAIN


@require_GET
def contacts(request: HttpRequest) -> HttpResponse:
    """Teams, the escalation matrix with who each level reaches, vendors, environments, key URLs and dashboards."""
    policy, matrix = selectors.escalation_matrix()
    links = list(selectors.key_link_list())
    context = {
        "teams": selectors.team_list(),
        "policy": policy,
        "matrix": matrix,
        "guide_chain": GUIDE_ONCALL_CHAIN,
        "vendors": selectors.vendor_list(),
        "environments": selectors.environment_list(),
        "link_groups": [
            (label, [link for link in links if link.category == value]) for value, label in KeyLink.Category.choices
        ],  # fmt: skip
        "dashboards": selectors.dashboard_list(),
    }
    return render(request, "contacts/contacts.html", context)
