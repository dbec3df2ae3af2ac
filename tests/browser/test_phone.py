"""A phone held upright, 390x844 (issue 14, point 3): the navigation folds into a menu, and the incident page is one
column with Acknowledge and the moves in the first screen. (Every page's width: test_ui.py's phone walk.)"""

import pytest
from playwright.sync_api import expect

from portal.accounts.roles import Role
from tests.browser.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("viewport", ["phone"], indirect=True)]


@pytest.fixture
def incident(site, make_user):
    from incidents.models import Service, Severity
    from incidents.services import incident_declare

    api = Service.objects.create(name="API", slug="api")
    make_user(Role.INCIDENT_COMMANDER, username="cora")
    return incident_declare(title="Checkout errors", severity=Severity.objects.get(code="P2"), reporter=None,
                            services=[api], impact_summary="Half of the checkouts fail")  # fmt: skip


def test_navigation_folds_into_a_menu(incident, page):
    sign_in(page, "cora")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    nav.get_by_role("link", name="Incidents").click()
    expect(page.get_by_role("heading", name="Incidents")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()  # folded again on the next page


def test_the_incident_page_is_one_column_with_acknowledge_and_the_moves_in_the_first_screen(incident, page):
    sign_in(page, "cora")
    page.goto(f"/incidents/{incident.pk}/")
    for name in ("Acknowledge", "Investigating", "Resolved"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_in_viewport()
    columns = page.evaluate("getComputedStyle(document.querySelector('#incident-body .columns')).gridTemplateColumns")
    assert len(columns.split()) == 1, columns
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".timeline")).to_contain_text("Acknowledged")
