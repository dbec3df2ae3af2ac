"""Public communication is deliberate (issue 14, point 6), at desktop and phone size: an update is public or internal
(internal by default for Responders), public ones preview the status page, the draft follows the chosen status,
resolving a public incident asks for the final public update; the public status page reads well and subscribes."""

import pytest
from playwright.sync_api import expect

from portal.accounts.roles import Role
from tests.browser.axe import serious_violations, serve_axe
from tests.browser.helpers import htmx_settled, off_loop, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("viewport", ["desktop", "phone"], indirect=True)]


@pytest.fixture
def incident(site, make_user):
    from incidents.models import Service, Severity
    from incidents.services import incident_declare

    api = Service.objects.create(name="API", slug="api")
    make_user(Role.RESPONDER, username="rami")
    make_user(Role.INCIDENT_COMMANDER, username="cora")
    return incident_declare(title="API latency on EU nodes", severity=Severity.objects.get(code="P1"), reporter=None,
                            services=[api], impact_summary="Slow checkouts", is_public=True)  # fmt: skip


def no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_responders_update_starts_internal_and_public_ones_preview_the_status_page(incident, page):
    sign_in(page, "rami")
    page.goto(f"/incidents/{incident.pk}/")
    card = page.locator("#status-update")
    public = card.get_by_label("Public: on the status page and emailed to its subscribers")
    expect(public).not_to_be_checked()
    preview = card.locator("#update-preview")
    expect(preview).to_contain_text("the status page and its subscribers do not")

    public.check()
    expect(preview).to_contain_text("Status page preview")
    expect(preview).to_contain_text("We are currently investigating the issue affecting API (API latency on EU nodes).")

    htmx_settled(page)  # the redrawn preview listens for the form's changes once htmx has wired it
    card.get_by_label("Status", exact=True).select_option("resolved")
    description = card.get_by_label("Description")
    expect(description).to_have_value("The issue affecting API (API latency on EU nodes) has been resolved.")
    expect(preview).to_contain_text("Resolved")
    expect(preview).to_contain_text("has been resolved")
    expect(preview).not_to_contain_text("We are currently investigating")

    htmx_settled(page)
    description.fill("Latency is back to normal.")
    card.get_by_label("Status", exact=True).select_option("monitoring")
    expect(description).to_have_value("Latency is back to normal.")  # their own words stay
    expect(preview).to_contain_text("Latency is back to normal.")
    no_sideways_scroll(page)

    card.get_by_role("button", name="Post update").click()
    expect(page.locator(".timeline")).to_contain_text("Monitoring (public): Latency is back to normal.")


def test_resolving_a_public_incident_asks_for_the_final_public_update(incident, page):
    sign_in(page, "cora")
    page.goto(f"/incidents/{incident.pk}/")
    page.get_by_role("button", name="Resolved", exact=True).click()
    page.locator("#confirm-resolve").get_by_role("button", name="Resolve anyway").click()  # never monitored
    final = page.locator("#final-update")
    expect(final).to_contain_text("write the final public update")
    text = final.get_by_label("Resolved: what the status page and its subscribers will read")
    expect(text).to_have_value("The issue affecting API (API latency on EU nodes) has been resolved.")
    htmx_settled(page)  # its preview listens for typing once htmx has wired it
    text.fill("EU latency is fixed; thank you for your patience.")
    expect(final.locator("#update-preview")).to_contain_text("EU latency is fixed")
    no_sideways_scroll(page)
    final.get_by_role("button", name="Post the final update and resolve").click()
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    expect(page.locator(".timeline")).to_contain_text("Resolved (public): EU latency is fixed")

    page.goto("/status/")
    history = page.locator("#status-history")
    expect(history).to_contain_text("API latency on EU nodes")
    expect(history).to_contain_text("EU latency is fixed; thank you for your patience.")


def test_the_public_status_page_reads_well_and_subscribes(incident, axe, new_page):
    from django.urls import reverse

    page = new_page()  # anonymous
    serve_axe(page, axe)
    page.goto(reverse("status-page"))
    expect(page.locator("#overall-status")).to_have_text("Major outage")
    services = page.locator("#status-services")
    expect(services).to_contain_text("Major outage")
    expect(services.locator(".uptime-bars .bar")).to_have_count(90)
    expect(page.locator("#status-incidents")).to_contain_text("We are investigating.")
    no_sideways_scroll(page)
    assert serious_violations(page) == []

    form = page.locator("#status-subscribe")
    form.get_by_label("Email address").fill("pat@example.org")
    form.get_by_label("API").check()
    form.get_by_role("button", name="Subscribe").click()
    expect(page.locator("#status-subscribe")).to_contain_text("We sent a confirmation link to pat@example.org")
    no_sideways_scroll(page)


def test_resolving_soon_after_mitigation_asks_to_confirm_and_live_updates_wait_for_the_answer(incident, page):
    """The confirmation and the final update are next steps only the answer to "Resolved" holds: another person's
    change must not redraw them away while they are open, typing and all."""
    from incidents.services import incident_add_note, incident_transition
    from portal.accounts.models import User

    def mitigate():
        cora, moved = User.objects.get(username="cora"), incident
        for status in ("investigating", "identified", "mitigating", "monitoring"):  # mitigated now
            moved = incident_transition(incident=moved, to_status=status, actor=cora)
        return moved

    off_loop(mitigate)
    sign_in(page, "cora")
    page.goto(f"/incidents/{incident.pk}/")
    page.get_by_role("button", name="Resolved", exact=True).click()
    confirm = page.locator("#confirm-resolve")
    expect(confirm).to_contain_text("was mitigated 0 min ago: monitor a P1 for 1-2 hours before resolving it")

    def someone_adds_a_note(text: str) -> None:
        off_loop(lambda: incident_add_note(incident=incident, actor=User.objects.get(username="rami"), text=text))
        page.evaluate("htmx.trigger(document.querySelector('[data-live]'), 'portal:visible')")  # poll now
        page.wait_for_timeout(500)

    someone_adds_a_note("Rami: the error rate is flat")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Keep monitoring").click()
    expect(confirm).to_have_count(0)
    expect(page.locator(".timeline")).to_contain_text("Rami: the error rate is flat")
    expect(page.locator("#incident-status")).to_have_text("Monitoring")

    page.get_by_role("button", name="Resolved", exact=True).click()
    confirm.get_by_role("button", name="Resolve anyway").click()
    final = page.locator("#final-update")
    text = final.get_by_label("Resolved: what the status page and its subscribers will read")
    text.fill("Checkouts work again.")
    someone_adds_a_note("Rami: still flat")
    expect(text).to_have_value("Checkouts work again.")
    final.get_by_role("button", name="Post the final update and resolve").click()
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    expect(page.locator(".timeline")).to_contain_text("Rami: still flat")  # live again, and caught up
