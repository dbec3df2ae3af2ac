"""What browser tests share besides fixtures: signing in, and running the ORM off Playwright's event loop."""

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection
from playwright.sync_api import Page, expect

from tests.factories import TEST_PASSWORD

T = TypeVar("T")


def sign_in(page: Page, username: str) -> None:
    page.goto("/")
    expect(page).to_have_url("/login/?next=/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Operations dashboard")).to_be_visible()


def off_loop(work: Callable[[], T]) -> T:
    """Runs `work` (ORM calls: another person's change) in a thread, where Django allows it while Playwright runs."""
    result: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    if errors:
        raise errors[0]
    return result[0]


def htmx_settled(page: Page) -> None:
    """Wait until htmx has settled what it swapped in: it wires the new elements' triggers (hx-trigger) only then,
    some milliseconds after they appear, so typing into them sooner goes unheard."""
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
