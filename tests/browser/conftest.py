"""Real headless Chromium (Debian's) on a live server per test, driven by Playwright.

Every test fails on a console error, an uncaught script error or a Content-Security-Policy violation in the page
(the `page` fixture checks at the end), unless the test allowed that message with `browser_log.allow(...)`.
A test asks for a screen with `@pytest.mark.parametrize("viewport", ["desktop", "phone"], indirect=True)`; the default
is a desktop.
"""

import os
import re
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import sync_playwright
from pytest_django.live_server_helper import LiveServer

from tests.browser.axe import AxeUnavailable, axe_script
from tests.conftest import CHROMIUM

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# A laptop, and a phone held upright (the issue's 390x844: an iPhone 12-15's CSS pixels), touch and mobile viewport.
SCREENS: dict[str, dict[str, object]] = {
    "desktop": {"viewport": {"width": 1366, "height": 900}},
    "wide": {"viewport": {"width": 1920, "height": 1080}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 3,
        "is_mobile": True,
        "has_touch": True,
    },
}


@pytest.fixture
def site(transactional_db, django_db_serialized_rollback):
    """A server per test (pytest-django's lives for the session and keeps a connection open past its end)."""
    server = LiveServer("localhost:0")
    yield server
    server.stop()


# Chromium reports CSP violations on the console too; the event also names the directive and the source.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` in ${event.sourceFile || document.location.pathname}:${event.lineNumber}`);
});
"""


@dataclass
class BrowserLog:
    """Console errors, uncaught exceptions and CSP violations seen in the test's pages."""

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Expect console errors matching `pattern` (e.g. the "status of 403" Chromium logs for a refused page)."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [error for error in self.errors if not any(pattern.search(error) for pattern in self.allowed)]


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def viewport(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "desktop")


@pytest.fixture
def browser(site):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(site, browser, browser_log, viewport):
    """Opens another page in a context of its own (another person's browser) on the test server."""
    contexts = []

    def open_page():
        context = browser.new_context(base_url=site.url, **SCREENS[viewport])
        contexts.append(context)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        page = context.new_page()
        # A warning about the Permissions-Policy header (a feature Chromium does not know) counts as an error.
        page.on("console", lambda message: (message.type == "error" or "Permissions-Policy" in message.text)
                and browser_log.errors.append(f"{page.url}: {message.text}"))  # fmt: skip
        page.on("pageerror", lambda error: browser_log.errors.append(f"{page.url}: uncaught {error}"))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not browser_log.unexpected(), "errors in the browser:\n" + "\n".join(browser_log.unexpected())


@pytest.fixture
def page(new_page):
    """A Chromium page on the test server. Request data fixtures before it: the ORM refuses to run (and would
    leak a connection) inside Playwright's event loop."""
    return new_page()


@pytest.fixture(scope="session")
def axe():
    """axe-core's script, served locally; without it accessibility checks skip, unless services are required."""
    try:
        return axe_script()
    except AxeUnavailable as exc:
        if os.environ.get("PORTAL_REQUIRE_SERVICES") == "1":
            raise
        pytest.skip(str(exc))
