from datetime import datetime, timedelta
from functools import lru_cache
from html import escape

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime

from portal.core import nav
from portal.core.audit import describe_changes
from portal.core.filters import filter_fields_html
from portal.core.links import reversed_once
from portal.text import length_words

register = template.Library()


@register.filter
def audit_changes(changes: dict[str, object] | None, length: int | None = None) -> str:
    """The changes in one line; at most `length` characters, the last an ellipsis (what `truncatechars` does, without
    its normalising and walking every character: a third of the audit page's rows)."""
    text = describe_changes(changes)
    return text if length is None or len(text) <= length else text[: length - 1] + "…"


@register.filter
def status_label(status: str | None) -> str:
    """`not_configured` -> `not configured`."""
    return (status or "unknown").replace("_", " ")


def _countdown(seconds: float) -> str:
    """A timer's words, which portal.js ticks in the browser in the same form: minutes zero-padded beside hours, so
    the text keeps its width as it counts; whole days past 48 h."""
    minutes = int(abs(seconds) // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours // 24} d"


@register.filter
def duration(value: timedelta | None) -> str:
    """A length of time as people say it: "2 h", "30 min", "1 h 30 min", "7 d", "1 d 2 h" (not "7 days, 0:00:00")."""
    return "" if value is None else length_words(value)


# Django's date format characters that strftime writes the same (zero-padded numbers), and their strftime codes.
_NUMERIC = {"Y": "%Y", "m": "%m", "d": "%d", "H": "%H", "i": "%M", "s": "%S"}


@lru_cache(maxsize=64)
def _strftime(date_format: str) -> str | None:
    """`date_format` in strftime's codes; None if it uses another character (a name, a week number, an escape)."""
    codes = []
    for char in date_format:
        if char in _NUMERIC:
            codes.append(_NUMERIC[char])
        elif char.isalpha() or char == "\\":
            return None
        else:
            codes.append(char.replace("%", "%%"))
    return "".join(codes)


@register.filter(expects_localtime=True)
def at(value: object, date_format: str) -> str:
    """Django's `date` filter, for the rows of lists: a numeric format ("Y-m-d H:i") is written by strftime in a
    quarter of the time; any other format or value goes to `date`."""
    codes = _strftime(date_format)
    if codes is None or not isinstance(value, datetime) or value.year < 1000:  # Y pads years to four digits
        return date_filter(value, date_format)
    return value.strftime(codes)


@register.simple_tag
def href(view_name: str, *args: object) -> str:
    """`{% url view_name *args %}` for the rows of lists and the incident page's forms, each URL reversed once per
    process (`reversed_once`): a page of 50 rows spent 1-2 ms reversing its links."""
    return reversed_once(view_name, *args)


_DATED = "D Y-m-d H:i"


@register.simple_tag
def time_range(start: datetime, end: datetime, start_format: str = _DATED) -> str:
    """[start, end) so that it cannot be read as a shorter span: "Tue 2026-12-01 02:00–04:00" within a day; an end on
    another day gives its date, and both ends their year ("Tue 2026-12-01 22:00 – Wed 2026-12-02 04:00")."""
    start, end = template_localtime(start), template_localtime(end)
    if start.date() == end.date():
        return f"{date_filter(start, start_format)}–{date_filter(end, 'H:i')}"
    dated = start_format if any(year in start_format for year in "Yyo") else _DATED
    return f"{date_filter(start, dated)} – {date_filter(end, dated)}"


@register.simple_tag
def timer(due: datetime | None, now: datetime, label: str = "") -> str:
    """A deadline as 'due in 12 min' or 'overdue by 3 min', styled by urgency. Written as one string with the label
    escaped (what `format_html` does, which took three times as long: the incidents page draws 150 timers)."""
    if due is None:
        return ""
    seconds = (due - now).total_seconds()
    if seconds < 0:
        css, text = "timer overdue", f"{label} overdue by {_countdown(seconds)}"
    else:
        css, text = ("timer soon" if seconds < 300 else "timer"), f"{label} due in {_countdown(seconds)}"
    # portal.js counts it down from data-due between refreshes, in the same words. The times are digits and
    # punctuation, css is one of three words: only the label needs escaping.
    return SafeString(
        f'<span class="{css}" title="{due:%Y-%m-%d %H:%M} UTC" data-due="{due.isoformat()}" '
        f'data-label="{escape(label)}">{escape(text.strip())}</span>'
    )


@register.simple_tag
def filter_fields(filterset: object) -> SafeString:
    """A list page's filter fields, kept rendered (`portal.core.filters.FILTER_FORMS`)."""
    return mark_safe(filter_fields_html(filterset))  # noqa: S308 - rendered by components/filter_fields.html, escaped


@register.simple_tag(takes_context=True)
def main_nav(context: template.Context) -> SafeString:
    """The top bar's navigation, its current page's link marked (`portal.core.nav`)."""
    match = getattr(context["request"], "resolver_match", None)
    return nav.main_nav(match.view_name if match else None, is_admin=bool(context.get("is_admin")))
