"""Which instants and dates the portal accepts as input, in one place for the API, the forms and the list filters.

Every calendar, schedule and freeze computation searches some way either side of the instant it is given (a day, a
month, the years around it), so an instant near datetime's own limits (years 1 and 9999) overflows there; and
PostgreSQL refuses UTC offsets past 15:59 that Python accepts (up to 23:59). Inputs are kept well inside both.
"""

from datetime import date, datetime, timedelta

from portal.errors import ApplicationError

# Far enough either way for any schedule, and clear of datetime's limits whatever margin a computation adds.
YEARS = range(1970, 3000)
# The widest offsets zones use are -12:00 and +14:00.
MAX_UTC_OFFSET = timedelta(hours=14)

RANGE_MESSAGE = f"must be between {YEARS.start} and {YEARS.stop - 1}."
OFFSET_MESSAGE = "the UTC offset must be between -14:00 and +14:00."


def instant_problem(value: datetime) -> str | None:
    """Why `value` is refused, or None. A naive value is judged by its own fields."""
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        return OFFSET_MESSAGE
    if value.year not in YEARS or (offset is not None and (value - offset).year not in YEARS):
        return RANGE_MESSAGE
    return None


def date_problem(value: date) -> str | None:
    return RANGE_MESSAGE if value.year not in YEARS else None


def check_instant(value: datetime, *, field: str) -> datetime:
    """`value`, or ApplicationError naming `field`: for services that take instants from more than one door."""
    if problem := instant_problem(value):
        raise ApplicationError(f"{field}: {problem}", field=field)
    return value


def check_date(value: date, *, field: str) -> date:
    if problem := date_problem(value):
        raise ApplicationError(f"{field}: {problem}", field=field)
    return value
