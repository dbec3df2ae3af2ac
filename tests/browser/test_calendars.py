"""Calendars and forms people can use (issue 14, point 9), at desktop and phone size: the maintenance calendar fits
its page, durations read "2 h", "Is it frozen?" answers on /freezes/, and past freezes are hidden by default."""

from datetime import date

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from portal.accounts.roles import Role
from tests.browser.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("viewport", ["desktop", "phone"], indirect=True)]


@pytest.fixture
def viewer(site, make_user):
    make_user(Role.VIEWER, username="vera")


def test_the_calendar_fits_and_durations_read_as_hours(viewer, page):
    sign_in(page, "vera")
    page.goto("/maintenance/?month=2026-11")
    width = page.viewport_size["width"]
    calendar = page.locator("table.calendar")
    assert calendar.bounding_box()["width"] <= width
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    expect(page.locator('td[data-day="2026-11-24"]')).to_contain_text("Standard updates")
    standard = page.locator("table.table").get_by_role("row").filter(has_text="Standard updates")
    expect(standard).to_contain_text(", 2 h")
    expect(standard).to_contain_text("24 h")  # the seed's "24 hours advance", not "1 day, 0:00:00"
    expect(page.locator("body")).not_to_contain_text("0:00:00")


def test_is_it_frozen_answers_and_past_freezes_are_hidden(viewer, page):
    sign_in(page, "vera")
    page.goto("/freezes/")
    box = page.get_by_role("form", name="Is it frozen?")
    box.get_by_label("Environment").select_option("production")
    box.get_by_label("At (UTC)").fill("2026-11-27T10:00")
    box.get_by_role("button", name="Check").click()
    expect(page.locator("#frozen-answer")).to_contain_text("Production at 2026-11-27 10:00 UTC: blocked until")
    expect(page.locator("#frozen-answer")).to_contain_text("Black Friday / Cyber Monday 2026")

    page.goto("/freezes/")
    periods = page.locator("#periods")
    expect(periods.get_by_role("row").first).to_be_visible()
    page.get_by_role("link", name="show past ones").click()
    # The calendar starts at this year's New Year's Day, a holiday freeze: past, or today.
    expect(page.locator("#periods")).to_contain_text(f"{date(timezone.now().year, 1, 1):%a %Y-%m-%d}")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


@pytest.fixture
def admin(site, make_user):
    from incidents.models import Service

    Service.objects.create(name="API", slug="api")
    make_user(Role.ADMIN, username="ada")


def test_a_recurring_window_is_made_with_the_recurrence_picker(admin, page):
    sign_in(page, "ada")
    page.goto("/maintenance/windows/new/")
    rrule = page.get_by_label("RRULE (recurring)")
    picker = page.get_by_role("group", name="Repeat")
    picker.get_by_label("Every").select_option("MONTHLY")
    picker.get_by_label("Which").select_option("-1")
    picker.get_by_label("Weekday", exact=True).select_option("SU")
    expect(rrule).to_have_value("FREQ=MONTHLY;BYDAY=-1SU")
    picker.get_by_label("Every").select_option("WEEKLY")
    picker.get_by_label("Tuesday").check()
    picker.get_by_label("Thursday").check()
    expect(rrule).to_have_value("FREQ=WEEKLY;BYDAY=TU,TH")

    page.get_by_label("Name").fill("Kernel patches")
    page.get_by_label("Kind").select_option("recurring")
    page.get_by_label("From (recurring)").fill("2026-12-01")
    page.get_by_label("Start time (recurring, local)").fill("02:00")
    page.get_by_label("Duration (minutes)").fill("120")
    page.get_by_role("button", name="Create window").click()
    expect(page.get_by_role("heading", name="Kernel patches")).to_be_visible()
    expect(page.locator("main")).to_contain_text("FREQ=WEEKLY;BYDAY=TU,TH")
    expect(page.locator("main")).to_contain_text("for 2 h")
