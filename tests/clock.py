"""One clock for the whole suite.

Tests that fix an instant move the clock for the code they call with time-machine's `time_machine` fixture
(`time_machine.move_to(NOW, tick=False)`), so a service that reads `timezone.now()` sees the test's instant.
`--travel-to` moves the clock for the whole session, ticking from that instant: `make test-anydate` uses it to
prove that the suite does not depend on the day it runs.
"""

from datetime import UTC, datetime

import pytest
import time_machine


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--travel-to",
        metavar="INSTANT",
        help="run the whole session with the clock moved to this ISO 8601 instant (UTC if no offset), ticking",
    )


def travel_instant(value: str) -> datetime:
    instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    value = config.getoption("--travel-to")
    if value:
        instant = travel_instant(value)
        traveller = time_machine.travel(instant, tick=True)
        traveller.start()
        config.stash[_traveller] = traveller


def pytest_unconfigure(config: pytest.Config) -> None:
    traveller = config.stash.get(_traveller, None)
    if traveller is not None:
        traveller.stop()


def pytest_report_header(config: pytest.Config) -> str | None:
    value = config.getoption("--travel-to")
    return f"clock moved to {travel_instant(value).isoformat()} for the whole session (--travel-to)" if value else None


_traveller = pytest.StashKey[time_machine.travel]()
