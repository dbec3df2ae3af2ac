"""The incident page and the dashboard keep themselves current, and timers count down (issue 14, point 1).
At desktop and phone size."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from portal.accounts.roles import Role
from tests.browser.helpers import off_loop, sign_in

pytestmark = pytest.mark.browser
SCREENS = pytest.mark.parametrize("viewport", ["desktop", "phone"], indirect=True)
LIVE = 5_000  # the bound: another person's change is on every open page within 5 s


@pytest.fixture
def room(site, make_user):
    """Cora and Dan command; a P2 on the API, detected now."""
    from incidents.models import Service, Severity
    from incidents.services import incident_declare

    api = Service.objects.create(name="API", slug="api")
    cora = make_user(Role.INCIDENT_COMMANDER, username="cora")
    make_user(Role.INCIDENT_COMMANDER, username="dan")
    return incident_declare(
        title="Checkout errors", severity=Severity.objects.get(code="P2"), reporter=cora, services=[api]
    )


def form_with(page: Page, button: str):
    return page.locator("form").filter(has=page.get_by_role("button", name=button, exact=True))


@SCREENS
def test_another_commanders_changes_appear_on_an_open_page_without_losing_a_draft(room, page, new_page):
    sign_in(page, "cora")
    page.goto(f"/incidents/{room.pk}/")
    page.evaluate("window.__sameDocument = true")
    draft = page.get_by_label("Description")
    draft.fill("Draft: half of the checkouts fail")
    draft.focus()

    dan = new_page()
    sign_in(dan, "dan")
    dan.goto(f"/incidents/{room.pk}/")
    severity = form_with(dan, "Change severity")
    severity.get_by_label("New severity").select_option("P3")
    severity.get_by_label("Why").fill("Only the EU shop")
    severity.get_by_role("button", name="Change severity").click()
    expect(page.locator("h1 .pill")).to_have_text("P3", timeout=LIVE)

    dan.get_by_label("Note").fill("Payments team paged")
    dan.get_by_role("button", name="Add note").click()
    expect(page.locator(".timeline")).to_contain_text("Payments team paged", timeout=LIVE)

    dan.get_by_role("button", name="Investigating").click()
    expect(page.locator("#incident-status")).to_have_text("Investigating", timeout=LIVE)
    expect(page.locator(".timers")).not_to_contain_text("Acknowledge", timeout=LIVE)  # the move acknowledged it
    expect(page.locator(".page-head")).to_contain_text("commander dan", timeout=LIVE)  # and made him commander

    form_with(dan, "Assign").get_by_label("New commander").select_option("cora")
    form_with(dan, "Assign").get_by_role("button", name="Assign").click()
    expect(page.locator(".page-head")).to_contain_text("commander cora", timeout=LIVE)

    assert page.evaluate("window.__sameDocument") is True  # swapped in place, never reloaded
    expect(page.get_by_label("Description")).to_have_value("Draft: half of the checkouts fail")
    assert page.evaluate("document.activeElement.name") == "description"  # still typing where she was


@SCREENS
def test_timers_count_down_on_the_page(room, page):
    sign_in(page, "cora")
    page.clock.install()
    page.goto(f"/incidents/{room.pk}/")
    acknowledge = page.locator(".timer", has_text="Acknowledge")
    expect(acknowledge).to_have_text(re.compile(r"^Acknowledge due in \d+ min$"))
    left = int(re.search(r"\d+", acknowledge.inner_text()).group())

    # A minute on, not five: the acknowledgement can be due within five minutes, depending on when the suite runs.
    page.clock.fast_forward("01:00")
    expect(acknowledge).to_have_text(f"Acknowledge due in {left - 1} min")
    page.clock.fast_forward(f"{left - 1 + 2:02d}:00")
    expect(acknowledge).to_have_text(re.compile(r"^Acknowledge overdue by [12] min$"))
    expect(acknowledge).to_have_class(re.compile(r"\boverdue\b"))


@SCREENS
def test_the_dashboard_refreshes_itself(room, page):
    sign_in(page, "cora")
    page.clock.install()
    page.goto("/")
    page.evaluate("window.__sameDocument = true")
    expect(page.locator("#dashboard-body")).to_contain_text("Checkout errors")

    def search_goes_down() -> None:
        from incidents.models import Severity
        from incidents.services import incident_declare

        incident_declare(title="Search is down", severity=Severity.objects.get(code="P1"), reporter=None,
                         detected_at=timezone.now() - timedelta(minutes=1))  # fmt: skip

    off_loop(search_goes_down)
    expect(page.locator("#dashboard-body")).not_to_contain_text("Search is down")
    page.clock.fast_forward("00:31")
    expect(page.locator("#dashboard-body")).to_contain_text("Search is down")
    assert page.evaluate("window.__sameDocument") is True
