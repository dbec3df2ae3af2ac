"""The template filters pages share, and the one way the portal writes a length of time."""

from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone
from django.utils.html import format_html

from operations.templatetags.operations_tags import minutes
from portal.core.templatetags.portal_tags import duration
from portal.text import duration_words


@pytest.mark.parametrize(
    ("length", "said"),
    [(timedelta(hours=2), "2 h"), (timedelta(days=7), "7 d"), (timedelta(minutes=90), "1 h 30 min"),
     (timedelta(days=1, hours=2), "26 h"), (timedelta(0), "0 min")],
)  # fmt: skip
def test_durations_read_as_people_say_them(length, said):
    assert duration(length) == said


@pytest.mark.parametrize(
    ("length", "said"),
    [(0, "0 min"), (5, "5 min"), (60, "1 h"), (65, "1 h 5 min"), (360, "6 h"), (1440, "24 h"), (2879, "47 h 59 min"),
     (2880, "2 d"), (4320, "3 d"), (2 * 1440 + 125, "2 d 2 h 5 min"), (-3, "0 min")],
)  # fmt: skip
def test_every_page_writes_a_length_of_time_one_way(length, said):
    assert duration_words(length) == said
    assert duration(timedelta(minutes=length)) == said  # windows, notice leads, procedure steps and runs
    assert minutes(length) == said  # recovery objectives


def test_a_missing_recovery_objective_reads_n_a():
    assert minutes(None) == "n/a"


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def span(start: datetime, end: datetime, start_format: str = "") -> str:
    tag = "{% time_range start end start_format %}" if start_format else "{% time_range start end %}"
    context = Context({"start": start, "end": end, "start_format": start_format})
    return Template("{% load portal_tags %}" + tag).render(context)


@pytest.mark.parametrize(
    ("start", "end", "start_format", "said"),
    [(utc(2026, 12, 1, 2), utc(2026, 12, 1, 4), "", "Tue 2026-12-01 02:00–04:00"),
     (utc(2026, 12, 1, 22), utc(2026, 12, 2, 4), "", "Tue 2026-12-01 22:00 – Wed 2026-12-02 04:00"),
     (utc(2026, 12, 2, 2), utc(2027, 12, 2, 4), "", "Wed 2026-12-02 02:00 – Thu 2027-12-02 04:00"),
     (utc(2026, 11, 27, 10), utc(2026, 11, 27, 12), "H:i", "10:00–12:00"),
     (utc(2026, 11, 27, 10), utc(2027, 11, 27, 12), "H:i", "Fri 2026-11-27 10:00 – Sat 2027-11-27 12:00"),
     (utc(2026, 11, 27, 10), utc(2027, 11, 27, 10), "D d M Y H:i", "Fri 27 Nov 2026 10:00 – Sat 27 Nov 2027 10:00"),
     (utc(2026, 11, 27, 10), utc(2027, 11, 27, 12), "Y-m-d H:i", "2026-11-27 10:00 – 2027-11-27 12:00")],
)  # fmt: skip
def test_a_time_range_cannot_be_read_as_a_shorter_one(start, end, start_format, said):
    """The end gives its date whenever it falls on another day than the start, and then both give their year."""
    assert span(start, end, start_format) == said


def test_a_time_range_is_written_in_the_current_time_zone():
    with timezone.override("America/New_York"):  # 03:00-04:00 UTC on 1 December is the evening before in New York
        assert span(utc(2026, 12, 1, 3), utc(2026, 12, 1, 4)) == "Mon 2026-11-30 22:00–23:00"


# `at` is Django's `date` for list rows, faster for numeric formats: it must write exactly what `date` writes.
AT_FORMATS = ["Y-m-d H:i", "Y-m-d H:i:s", "m-d H:i:s", "m-d H:i", "H:i:s", "H:i", "D d M H:i", r"Y-m-d\TH:i", "100%"]
AT_VALUES = [
    utc(2026, 3, 29, 0, 59),
    utc(2026, 3, 29, 1, 0, 30),
    utc(2026, 10, 25, 0, 30),
    utc(2026, 10, 25, 1, 30),
    datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, tzinfo=UTC),
    datetime(2026, 7, 1, 12, 0),  # noqa: DTZ001 - a naive value is written as it is
    None,
    "",
]


@pytest.mark.parametrize("date_format", AT_FORMATS)
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns", None])
def test_at_writes_what_djangos_date_filter_writes(date_format, zone):
    """In the current time zone (DST changes in Berlin, a half-hour offset), with localtime off, naive values, a
    three-digit year, nothing."""
    body = "{% for value in values %}[{{ value|FILTER:date_format }}]{% endfor %}"
    if zone is None:
        body = "{% load tz %}{% localtime off %}" + body + "{% endlocaltime %}"
    else:
        body = "{% load tz %}{% timezone zone %}" + body + "{% endtimezone %}"
    context = Context({"values": AT_VALUES, "date_format": date_format, "zone": zone})
    ours = Template("{% load portal_tags %}" + body.replace("FILTER", "at")).render(context)
    djangos = Template(body.replace("FILTER", "date")).render(context)
    assert ours == djangos


@pytest.mark.parametrize(
    ("view_name", "args"),
    [("incident-detail", (7,)), ("incident-detail", (123456,)), ("action-detail", (7,)), ("delivery-retry", (9,)),
     ("dashboard", ())],
)  # fmt: skip
def test_href_is_the_url_tag_reversed_once(view_name, args):
    context = Context({"name": view_name, "args": args, "first": args[0] if args else None})
    argument = " first" if args else ""
    ours = Template("{% load portal_tags %}{% href name" + argument + " %}").render(context)
    assert ours == Template("{% url name" + argument + " %}").render(context)
    from django.urls import get_script_prefix, set_script_prefix

    default = get_script_prefix()
    set_script_prefix("/portal/")  # served under a prefix (SCRIPT_NAME): the same name and pk, another URL
    try:
        prefixed = Template("{% load portal_tags %}{% href name" + argument + " %}").render(context)
        assert prefixed == "/portal" + ours
    finally:
        set_script_prefix(default)


@pytest.mark.parametrize(
    "changes",
    [None, {}, {"name": ["a", "b"]}, {"title": ["x" * 110, "y" * 120]}, {"title": ["x" * 110, "y" * 121]},
     {"title": ["é" * 200, "→" * 200]}, {"users": {"type": "m2m", "operation": "add", "objects": ["ada", "bo"]}}],
)  # fmt: skip
def test_audit_changes_shortens_as_truncatechars_does(changes):
    said = Template("{% load portal_tags %}{{ changes|audit_changes|truncatechars:240 }}")
    ours = Template("{% load portal_tags %}{{ changes|audit_changes:240 }}")

    assert ours.render(Context({"changes": changes})) == said.render(Context({"changes": changes}))


@pytest.mark.parametrize(
    ("offset", "label", "css", "words"),
    [(7, "ack", "timer", "ack due in 7 min"), (4, "Next update", "timer soon", "Next update due in 4 min"),
     (-3, "resolution", "timer overdue", "resolution overdue by 3 min"),
     (-61 * 60, "", "timer overdue", "overdue by 2 d"),
     (125, 'a "quoted" <label> & more', "timer", 'a "quoted" <label> & more due in 2 h 05 min')],
)  # fmt: skip
def test_a_timer_is_the_markup_format_html_writes(offset, label, css, words):
    """The timer writes its span as one string: the same as `format_html` with every argument escaped."""
    now = datetime(2027, 3, 14, 6, 59, tzinfo=UTC)
    due = now + timedelta(minutes=offset)
    context = Context({"due": due, "now": now, "label": label})
    ours = Template("{% load portal_tags %}{% timer due now label %}").render(context)
    expected = format_html('<span class="{}" title="{} UTC" data-due="{}" data-label="{}">{}</span>',
                           css, f"{due:%Y-%m-%d %H:%M}", due.isoformat(), label, words)  # fmt: skip
    assert ours == expected
    assert Template("{% load portal_tags %}{% timer None now label %}").render(context) == ""
