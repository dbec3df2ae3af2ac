"""The dashboard leads with what needs a person (issue 14, point 4), at desktop and phone size."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from portal.accounts.roles import Role
from tests.browser.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("viewport", ["desktop", "phone"], indirect=True)]
LONG_CHANGE = "https://ci.example.com/broxiva/checkout/-/pipelines/" + "9" * 240


@pytest.fixture
def busy(site, make_user):
    """An owned, acknowledged P1; a P3 three hours old whose update is an hour late and that nobody owns; a freeze
    exception Rami asked for."""
    from incidents.models import Severity
    from incidents.services import incident_acknowledge, incident_declare
    from maintenance.services import freeze_exception_request

    now = timezone.now()
    cora = make_user(Role.INCIDENT_COMMANDER, username="cora")
    rami = make_user(Role.RESPONDER, username="rami")
    p1 = incident_declare(title="Search down", severity=Severity.objects.get(code="P1"), reporter=None)
    incident_acknowledge(incident=p1, actor=cora)
    incident_declare(title="Stale emails", severity=Severity.objects.get(code="P3"), reporter=None,
                     detected_at=now - timedelta(hours=3))  # fmt: skip
    freeze_exception_request(change="ci#42", reason="Hotfix for checkout", environment="production", starts_at=now,
                             ends_at=now + timedelta(hours=2), actor=rami)  # fmt: skip
    # A pipeline's link as the change: one unbroken word, which must not widen a phone's page.
    freeze_exception_request(change=LONG_CHANGE, reason="Config", environment="production", starts_at=now,
                             ends_at=now + timedelta(hours=2), actor=rami)  # fmt: skip


def test_the_dashboard_leads_with_what_needs_a_person(busy, page):
    sign_in(page, "cora")
    expect(page.get_by_role("link", name="Declare incident")).to_be_in_viewport()
    needs = page.locator("#needs-attention li")
    expect(needs.first).to_contain_text("Stale emails")  # before the P1: someone must act on it
    expect(needs.first).to_contain_text("no commander")
    # Its acknowledgement is due an hour after detection in business hours, the next business day after them:
    # overdue or not depending on when the suite runs. Its update is due two hours after detection, always.
    expect(needs.first.locator('.timer[data-label="Acknowledge"]')).to_be_visible()
    update = needs.first.locator('.timer.overdue[data-label="Update"]')
    expect(update).to_have_text(re.compile(r"^Update overdue by 1 h"))
    expect(needs.nth(1)).to_contain_text("Search down")
    expect(needs.first).to_be_in_viewport()
    approvals = page.locator("#my-approvals")
    expect(approvals).to_contain_text("Freeze exception for ci#42")
    expect(approvals).to_contain_text(LONG_CHANGE[:60])
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    approvals.get_by_role("link", name="Freeze exception for ci#42").click()
    expect(page).to_have_url(re.compile(r"/freezes/#exception-\d+$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
