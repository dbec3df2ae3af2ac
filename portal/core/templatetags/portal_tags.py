from django import template

from portal.core.audit import describe_changes

register = template.Library()


@register.filter
def audit_changes(changes: dict[str, object] | None) -> str:
    return describe_changes(changes)


@register.filter
def status_label(status: str | None) -> str:
    """`not_configured` -> `not configured`."""
    return (status or "unknown").replace("_", " ")
