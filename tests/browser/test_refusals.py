"""Refusals of htmx forms (400, 403, 409) are shown beside the form, keep the page and what was typed, and a 409
offers the fresh state in place (issue 14, point 2). At desktop and phone size."""

import pytest
from playwright.sync_api import Page, expect

from portal.accounts.roles import Role
from tests.browser.helpers import off_loop, sign_in

pytestmark = pytest.mark.browser
SCREENS = pytest.mark.parametrize("viewport", ["desktop", "phone"], indirect=True)


@pytest.fixture
def room(site, make_user):
    """Cora and Dan command; Rami responds; a P2 on the API that Cora declared."""
    from incidents.models import Service, Severity
    from incidents.services import incident_declare

    api = Service.objects.create(name="API", slug="api")
    cora = make_user(Role.INCIDENT_COMMANDER, username="cora")
    dan = make_user(Role.INCIDENT_COMMANDER, username="dan")
    rami = make_user(Role.RESPONDER, username="rami")
    incident = incident_declare(
        title="Checkout errors", severity=Severity.objects.get(code="P2"), reporter=cora, services=[api]
    )
    return {"incident": incident, "cora": cora, "dan": dan, "rami": rami}


def open_incident(page: Page, incident_id: int) -> None:
    page.goto(f"/incidents/{incident_id}/")
    expect(page.get_by_role("heading", name="Checkout errors")).to_be_visible()
    page.evaluate("window.__sameDocument = true")  # survives only if no full page load happens


def form_with(page: Page, button: str):
    return page.locator("form").filter(has=page.get_by_role("button", name=button, exact=True))


def refusal_after(page: Page, button: str):
    """The refusal portal.js puts right after the form holding `button`."""
    return page.locator(".refusal").filter(
        has=page.locator(f"xpath=preceding-sibling::form[1][.//button[.='{button}']]")
    )


def assert_page_kept(page: Page) -> None:
    expect(page.locator("nav#mainnav")).to_have_count(1)  # the navigation is still there (folded on a phone)
    expect(page.get_by_role("heading", name="Checkout errors")).to_be_visible()
    assert page.evaluate("document.querySelectorAll('header.topbar').length") == 1
    assert page.evaluate("window.__sameDocument") is True


@SCREENS
def test_a_400_and_a_403_show_beside_their_form_and_keep_the_page(room, page, browser_log, settings):
    settings.DEBUG = True  # the demo, where django-htmx's debug helper used to replace the whole document
    browser_log.allow(r"status of 40[03]")
    sign_in(page, "cora")
    open_incident(page, room["incident"].pk)
    page.get_by_label("Description").fill("Half of the checkouts fail at the payment step.")

    def rami_only_reads() -> None:
        from django.contrib.auth.models import Group

        room["rami"].groups.set([Group.objects.get(name=Role.VIEWER)])

    off_loop(rami_only_reads)  # the picker offered him when the page was drawn; the server decides
    form_with(page, "Assign").get_by_label("New commander").select_option("rami")
    form_with(page, "Assign").get_by_role("button", name="Assign").click()
    refusal = refusal_after(page, "Assign")
    expect(refusal).to_have_role("alert")
    expect(refusal).to_contain_text("rami is not an active Responder: pick someone who can act on it.")
    expect(refusal).to_be_in_viewport()
    assert_page_kept(page)
    expect(page.get_by_label("Description")).to_have_value("Half of the checkouts fail at the payment step.")
    refusal.get_by_role("button", name="Dismiss").click()
    expect(page.locator(".refusal")).to_have_count(0)

    def demote() -> None:
        from django.contrib.auth.models import Group

        room["cora"].groups.set([Group.objects.get(name=Role.RESPONDER)])

    off_loop(demote)  # an Admin takes Cora's commander role while her page is open
    severity = form_with(page, "Change severity")
    severity.get_by_label("New severity").select_option("P1")
    severity.get_by_label("Why").fill("Checkout is down")
    severity.get_by_role("button", name="Change severity").click()
    expect(refusal_after(page, "Change severity")).to_contain_text("requires the Incident Commander role")
    assert_page_kept(page)
    expect(page.get_by_label("Description")).to_have_value("Half of the checkouts fail at the payment step.")


@SCREENS
def test_a_409_says_who_changed_what_and_reloads_the_fresh_state_in_place(room, page, browser_log):
    browser_log.allow(r"status of 409")
    sign_in(page, "cora")
    page.clock.install()
    open_incident(page, room["incident"].pk)
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)  # no live refresh: Cora's page stays as loaded
    page.get_by_label("Description").fill("Half of the checkouts fail at the payment step.")

    def dan_lowers_it() -> None:
        from incidents.models import Severity
        from incidents.services import incident_change_severity

        incident_change_severity(
            incident=room["incident"], severity=Severity.objects.get(code="P3"), actor=room["dan"],
            reason="Only the EU shop is affected",
        )  # fmt: skip

    off_loop(dan_lowers_it)
    severity = form_with(page, "Change severity")
    severity.get_by_label("New severity").select_option("P1")
    severity.get_by_label("Why").fill("Checkout is down")
    severity.get_by_role("button", name="Change severity").click()

    refusal = refusal_after(page, "Change severity")
    expect(refusal).to_contain_text("changed since you loaded it: dan,")
    expect(refusal).to_contain_text("P2 → P3: Only the EU shop is affected")
    expect(page.locator("h1 .pill")).to_have_text("P2")  # nothing moved under her
    refusal.get_by_role("button", name="Reload the latest").click()

    expect(page.locator("h1 .pill")).to_have_text("P3")
    expect(page.locator(".timeline")).to_contain_text("P2 → P3: Only the EU shop is affected")
    expect(page.locator(".refusal")).to_have_count(0)
    expect(page.get_by_label("Description")).to_have_value("Half of the checkouts fail at the payment step.")
    assert_page_kept(page)
