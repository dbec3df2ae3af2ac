from django import template

from portal.core.audit import describe_changes

register = template.Library()


@register.filter
def audit_changes(changes: dict[str, object] | None) -> str:
    return describe_changes(changes)
