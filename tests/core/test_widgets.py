"""The project's select template (templates/django/forms/widgets/select.html) writes each option in place rather than
including a template per option, and must say exactly what Django's own templates say."""

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates, TemplatesSetting, get_default_renderer

CHOICES = [("", "---------"), ("Stores", [("pg", "PostgreSQL"), ("redis", "Redis & <Valkey>")]), (3, "Three")]


def _words(html: str) -> list[str]:
    return html.split()


def test_the_project_renders_widgets_with_its_own_templates():
    assert isinstance(get_default_renderer(), TemplatesSetting)


@pytest.mark.parametrize(
    ("widget", "value"),
    [
        (forms.Select(choices=CHOICES, attrs={"id": "id_store", "required": True}), "redis"),
        (forms.Select(choices=CHOICES), None),
        (forms.Select(choices=CHOICES), 3),
        (forms.SelectMultiple(choices=CHOICES, attrs={"size": 4}), ["pg", "3"]),
        (forms.NullBooleanSelect(), True),
    ],
)
def test_a_select_says_what_djangos_own_templates_say(widget, value):
    ours = widget.render("store", value)

    assert _words(ours) == _words(widget.render("store", value, renderer=DjangoTemplates()))
    options = [option for _, group, _ in widget.optgroups("store", [value]) for option in group]
    assert ours.count("<option") == len(options)
