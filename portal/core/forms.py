"""The HTML forms' fields for text, instants and dates: Django's, refusing what the portal cannot store or compute with,
as the API's fields do (portal.core.api.fields)."""

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django import forms
from django.forms.renderers import TemplatesSetting
from django.template import TemplateDoesNotExist
from django.template.backends.jinja2 import Jinja2
from django.utils.functional import cached_property
from django.utils.text import capfirst
from django_filters.fields import IsoDateTimeField

from portal.instants import date_problem, instant_problem
from portal.text import one_line_validator


class LineField(forms.CharField):
    """One line of text (what a model CharField stores): no line breaks, no control characters."""

    default_validators = [one_line_validator]


class DateTimeField(forms.DateTimeField):
    """An instant in the years the portal computes with (portal.instants) and with a real UTC offset."""

    def to_python(self, value: object) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is not None and (problem := instant_problem(parsed)):
            raise forms.ValidationError(capfirst(problem), code="range")
        return parsed


class IsoInstantField(DateTimeField, IsoDateTimeField):
    """The list filters' ISO 8601 instant (`since`, `until`), bounded like DateTimeField."""


class DateField(forms.DateField):
    """A date in the years the portal computes with (portal.instants)."""

    def to_python(self, value: object) -> date | None:
        parsed = super().to_python(value)
        if parsed is not None and (problem := date_problem(parsed)):
            raise forms.ValidationError(capfirst(problem), code="range")
        return parsed


def share_choices(fields: Sequence[forms.ModelChoiceField], rows: Sequence[tuple[str, str]]) -> None:
    """Give pickers over the same queryset the same (value, label) `rows`, read once (or kept): each ModelChoiceField
    otherwise queries its rows when it renders (the incident page's commander and three role pickers read the users
    four times). Each keeps its own empty label; validation still goes through each field's queryset."""
    for field in fields:
        field.choices = [("", field.empty_label), *rows] if field.empty_label is not None else list(rows)


class FormRenderer(TemplatesSetting):
    """Widgets, labels and error lists through Django's own Jinja2 templates, which render several times faster than
    the template language's (an incident page draws about twenty fields), with portal/core/jinja2/ overriding them:
    its select writes each option in place instead of including a template per option. A template Jinja2 has not
    (the admin's widgets) comes from the project's engines, as with TemplatesSetting."""

    @cached_property
    def jinja2(self) -> Jinja2:
        dirs = [Path(__file__).parent / "jinja2", Path(forms.__file__).parent / "jinja2"]
        return Jinja2({"APP_DIRS": False, "DIRS": dirs, "NAME": "djangoforms", "OPTIONS": {}})

    def get_template(self, template_name: str) -> Any:
        try:
            return self.jinja2.get_template(template_name)
        except TemplateDoesNotExist:
            return super().get_template(template_name)
