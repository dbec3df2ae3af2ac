"""Accessible (issue 14, point 11): axe-core finds no serious or critical WCAG 2.1 A/AA violation on the dashboard,
an incident, on-call, maintenance (emergency maintenance offering its procedure), severities, contacts and actions
pages, at desktop and phone size; a skip link; the icon loads."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from portal.accounts.roles import Role
from tests.browser.axe import serious_violations, serve_axe
from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(site, make_user):
    """The demo's data (an open P2 with its timeline, rotations, windows, runs), as an Incident Commander sees it."""
    import io

    from django.core.management import call_command
    from django.urls import reverse

    from incidents.models import Incident
    from maintenance.services import window_create_emergency
    from oncall.models import Rotation

    cora = make_user(Role.INCIDENT_COMMANDER, username="cora")
    call_command("seed_demo", stdout=io.StringIO())
    emergency = window_create_emergency(name="Patch OpenSSL", actor=cora, duration=timedelta(hours=1))
    return {
        "dashboard": reverse("dashboard"),
        "incident": reverse("incident-detail", args=[Incident.objects.filter(status="investigating").first().pk]),
        "incidents": reverse("incident-list"),
        "on-call": reverse("oncall-index"),
        "rotation": reverse("oncall-rotation", args=[Rotation.objects.first().pk]),
        "maintenance": reverse("maintenance-calendar"),
        "freezes": reverse("freeze-calendar"),
        "emergency maintenance": reverse("maintenance-occurrence", args=[emergency.pk]),
        "severities": reverse("severity-list"),
        "contacts": reverse("contacts"),
        "actions": reverse("action-list"),
        "new action": reverse("action-new"),
    }


@pytest.mark.parametrize("viewport", ["desktop", "phone"], indirect=True)
def test_no_serious_or_critical_axe_violations(axe, demo, page):
    serve_axe(page, axe)
    sign_in(page, "cora")
    found = {}
    for name, url in demo.items():
        page.goto(url)
        page.wait_for_load_state("networkidle")
        if violations := serious_violations(page):
            found[name] = violations
    assert found == {}, "\n".join(f"{name}: {line}" for name, lines in found.items() for line in lines)


def test_the_skip_link_leads_to_the_content_and_the_icon_loads(demo, page):
    sign_in(page, "cora")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    icon = page.evaluate("document.querySelector('link[rel=icon]').href")
    assert page.request.get(icon).status == 200
    assert page.request.get("/favicon.ico").status == 200  # browsers ask for it on pages without a link
