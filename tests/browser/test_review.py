"""Issue 14, points 7 and 8 in Chromium: the review keeps work and drafts itself; incident details and roles."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from incidents.models import Incident, Service, Severity
from incidents.services import incident_add_note, incident_declare, incident_transition
from portal.accounts.roles import Role
from tests.browser.axe import serious_violations, serve_axe
from tests.browser.helpers import off_loop, sign_in

pytestmark = pytest.mark.browser
SCREENS = pytest.mark.parametrize("viewport", ["desktop", "phone"], indirect=True)


@pytest.fixture
def people(site, make_user):
    make_user(Role.RESPONDER, username="rami")
    return make_user(Role.INCIDENT_COMMANDER, username="cora")


@pytest.fixture
def resolved(people) -> Incident:
    api = Service.objects.create(name="API", slug="api")
    detected = timezone.now() - timedelta(hours=2)
    incident = incident_declare(title="Checkout errors", severity=Severity.objects.get(code="P2"), reporter=people,
                                services=[api], detected_at=detected, now=detected)  # fmt: skip
    incident_transition(incident=incident, to_status="investigating", actor=people, now=detected + timedelta(minutes=3))
    return incident_transition(incident=incident, to_status="resolved", confirm=True, actor=people)


@pytest.fixture
def open_incident(people) -> Incident:
    api = Service.objects.create(name="API", slug="api")
    Service.objects.create(name="Search", slug="search")
    return incident_declare(title="Checkout errors", severity=Severity.objects.get(code="P2"), reporter=people,
                            services=[api], commander=people)  # fmt: skip


def assert_fits_the_screen(page: Page, viewport: str) -> None:
    if viewport == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= 390


@SCREENS
def test_adding_an_item_keeps_the_draft_items_close_with_a_ticket_and_publishing_asks_first(
    resolved, page, viewport, axe
):
    serve_axe(page, axe)
    sign_in(page, "cora")
    page.goto(f"/incidents/{resolved.pk}/review/")
    facts = page.get_by_label("What happened (drafted from the incident)")
    expect(facts).to_have_value(
        re.compile(r"Time to acknowledge: 3 min \(P2 target .+\)\.[\s\S]*Deployments to the affected")
    )
    page.get_by_label("Summary").fill("Checkout failed for 2 hours")
    page.get_by_label("Root cause").fill("An expired certificate")

    new_item = page.get_by_role("group", name="New action item")
    new_item.get_by_label("Title").fill("Alert on certificate expiry")
    new_item.get_by_label("Owner").select_option("rami")
    new_item.get_by_label("Due date").fill(f"{timezone.now() + timedelta(days=30):%Y-%m-%d}")  # due ahead of any run
    new_item.get_by_role("button", name="Add action item").click()

    item = page.locator("fieldset.action-item").filter(has_text="Alert on certificate expiry").first
    expect(item.get_by_label("Owner")).to_have_value("rami")
    expect(page.get_by_label("Summary")).to_have_value("Checkout failed for 2 hours")  # saved, not lost
    expect(page.get_by_label("Root cause")).to_have_value("An expired certificate")

    page.get_by_label("Contributing factors").fill("No alert on expiry")  # typed, then an item is closed
    item.get_by_label("Ticket URL").fill("https://tracker.example.com/OPS-7")
    item.get_by_role("button", name="Close").click()
    item = page.locator("fieldset.action-item").filter(has_text="Alert on certificate expiry").first
    expect(item.locator("legend")).to_contain_text("Done")
    expect(item.get_by_role("link", name="ticket")).to_have_attribute("href", "https://tracker.example.com/OPS-7")
    expect(page.get_by_label("Contributing factors")).to_have_value("No alert on expiry")
    assert_fits_the_screen(page, viewport)
    assert serious_violations(page) == []

    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Publish (freezes the review)").click()
    expect(page.get_by_label("Summary")).to_be_visible()  # still a draft
    assert dialogs == ["Publish the review? The summary, root cause and timeline are frozen once published."]

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Publish (freezes the review)").click()
    expect(page.locator(".page-head")).to_contain_text("published")
    expect(page.get_by_role("heading", name="Timeline (as published)")).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text(
        "Alert on certificate expiry: ticket https://tracker.example.com/OPS-7; closed"
    )
    expect(page.locator(".timeline")).not_to_contain_text("edited: what happened")  # the prefilled text, untouched
    assert_fits_the_screen(page, viewport)


@SCREENS
def test_commander_edits_the_details_and_assigns_roles_in_place(open_incident, page, viewport, axe):
    serve_axe(page, axe)
    sign_in(page, "cora")
    page.goto(f"/incidents/{open_incident.pk}/")
    page.evaluate("window.__sameDocument = true")
    expect(page.get_by_label("New commander")).to_have_value("cora")  # the picker shows who holds it

    page.get_by_text("Edit details").click()
    assert serious_violations(page) == []
    page.get_by_label("Title", exact=True).fill("Payments failing")
    # Another person's note arrives through the live poll: the open editor and what was typed in it stay.
    off_loop(
        lambda: incident_add_note(incident=open_incident, text="Payments team paged", actor=open_incident.reporter)
    )
    expect(page.locator(".timeline")).to_contain_text("Payments team paged", timeout=10_000)
    expect(page.locator("#edit-details")).to_have_attribute("open", "")
    expect(page.get_by_label("Title", exact=True)).to_have_value("Payments failing")
    page.get_by_label("Services").select_option(["api", "search"])
    page.get_by_label("Impact summary").fill("EU shoppers cannot pay")
    page.get_by_label("Public (status page, subscriber emails)").check()
    page.get_by_role("button", name="Save details").click()
    expect(page.get_by_role("heading", name="Payments failing")).to_be_visible()
    expect(page.locator(".page-head")).to_contain_text("API, Search")
    expect(page.locator(".page-head")).to_contain_text("public")
    expect(page.locator(".timeline")).to_contain_text("Changed title: Payments failing")

    page.get_by_label("Communications lead", exact=True).select_option("rami")
    page.get_by_role("button", name="Set communications lead").click()
    expect(page.locator("#incident-roles")).to_have_text("communications lead rami")
    expect(page.get_by_label("Communications lead", exact=True)).to_have_value("rami")
    page.get_by_label("Scribe", exact=True).select_option("cora")
    page.get_by_role("button", name="Set scribe").click()
    expect(page.locator("#incident-roles")).to_have_text("communications lead rami · scribe cora")
    expect(page.locator("#roles")).to_contain_text("Operations lead")
    expect(page.locator(".timeline")).to_contain_text("Scribe: cora")
    assert page.evaluate("window.__sameDocument") is True
    assert_fits_the_screen(page, viewport)
