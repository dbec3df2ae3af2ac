"""Freeze exceptions are decided with a mouse at any width (issue 14, point 5): nothing covers Approve or Reject."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from portal.accounts.roles import Role
from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def asked(site, make_user):
    from maintenance.services import freeze_exception_request

    make_user(Role.INCIDENT_COMMANDER, username="cora")
    rami = make_user(Role.RESPONDER, username="rami")
    now = timezone.now()
    for change in ("https://ci.example.com/pipelines/4242/deployments/checkout-service-2.4.2", "ci#43"):
        freeze_exception_request(change=change, reason="Payment provider fix that cannot wait for the freeze to end",
                                 environment="production", starts_at=now, ends_at=now + timedelta(hours=2),
                                 actor=rami)  # fmt: skip


@pytest.mark.parametrize("viewport", ["desktop", "wide", "phone"], indirect=True)
def test_approve_and_reject_are_never_covered(asked, page):
    sign_in(page, "cora")
    page.goto("/freezes/")
    for change, button, outcome in (("checkout-service-2.4.2", "Approve", "Approved by cora"),
                                    ("ci#43", "Reject", "Rejected by cora")):  # fmt: skip
        row = page.get_by_role("row").filter(has_text=change)
        target = row.get_by_role("button", name=button)
        target.scroll_into_view_if_needed()
        box = target.bounding_box()
        on_top = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y)?.textContent", [box["x"] + box["width"] / 2, box["y"] + 5]
        )
        assert on_top == button  # the button itself is under the pointer, not the aside
        target.click()
        expect(page.get_by_role("row").filter(has_text=change)).to_contain_text(outcome)
