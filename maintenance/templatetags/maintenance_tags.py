from collections.abc import Iterable

from django import template
from django.utils.safestring import SafeString, mark_safe

from maintenance.selectors import UptimeDay

register = template.Library()

_BAR = '<li class="bar bar-{level}" title="{label}"><span class="visually-hidden">{label}</span></li>'


@register.simple_tag
def uptime_bars(days: Iterable[UptimeDay]) -> SafeString:
    """A service's daily uptime bars as one tag: a template loop over the services' 90 days each took most of the
    public status page's time. Safe unescaped: a bar holds only its level's name, a date and a percentage."""
    return mark_safe("".join(_BAR.format(level=day.level, label=day.label) for day in days))  # noqa: S308 - see above
