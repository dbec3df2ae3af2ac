"""Fields render through Django's own Jinja2 templates (portal.core.forms.FormRenderer, with the project's select
template writing each option in place), and must say what Django's template-language templates say: the same elements,
attributes and text, whitespace and the spelling of escapes aside."""

from datetime import UTC, datetime

import pytest
from django import forms
from django.contrib.admin.widgets import AdminURLFieldWidget
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.test.html import parse_html

from portal.core.forms import FormRenderer

CHOICES = [("", "---------"), ("Stores", [("pg", "PostgreSQL"), ("redis", "Redis & <Valkey>")]), (3, "Three")]
AWKWARD = 'O\'Brien & "Sons" <b>'


def test_the_project_renders_fields_with_its_renderer_and_its_select():
    renderer = get_default_renderer()

    assert isinstance(renderer, FormRenderer)
    assert "portal/core/jinja2/" in renderer.get_template("django/forms/widgets/select.html").origin.name


@pytest.mark.parametrize(
    ("widget", "value"),
    [
        (
            forms.TextInput(attrs={"maxlength": 20, "required": True, "disabled": False, "placeholder": AWKWARD}),
            AWKWARD,
        ),
        (forms.TextInput(), None),
        (forms.NumberInput(attrs={"min": 0}), 1000),
        (forms.EmailInput(), "a@example.com"),
        (forms.URLInput(), "https://example.com/?a=1&b=2"),
        (forms.PasswordInput(), "secret"),
        (forms.PasswordInput(render_value=True), "secret"),
        (forms.HiddenInput(), 7),
        (forms.DateTimeInput(attrs={"type": "datetime-local"}), datetime(2026, 11, 27, 10, 0, tzinfo=UTC)),
        (forms.Textarea(attrs={"rows": 3}), "Line one\n</textarea> & more"),
        (forms.Textarea(), ""),
        (forms.CheckboxInput(), True),
        (forms.CheckboxInput(), False),
        (forms.Select(choices=CHOICES, attrs={"id": "id_store", "required": True}), "redis"),
        (forms.Select(choices=CHOICES), None),
        (forms.Select(choices=CHOICES), 3),
        (forms.SelectMultiple(choices=CHOICES, attrs={"size": 4}), ["pg", "3"]),
        (forms.NullBooleanSelect(), True),
        (forms.CheckboxSelectMultiple(choices=CHOICES[1:]), ["redis"]),
        (forms.RadioSelect(choices=CHOICES[1:], attrs={"id": "id_store"}), "3"),
        (forms.SplitDateTimeWidget(), datetime(2026, 11, 27, 10, 0, tzinfo=UTC)),
    ],
)
def test_a_field_says_what_djangos_own_templates_say(widget, value):
    ours = widget.render("store", value, renderer=FormRenderer())

    assert parse_html(ours) == parse_html(widget.render("store", value, renderer=DjangoTemplates()))
    if isinstance(widget, forms.Select):
        options = [option for _, group, _ in widget.optgroups("store", widget.format_value(value)) for option in group]
        assert ours.count("<option") == len(options)


class Refused(forms.Form):
    name = forms.CharField(label="Name & role")
    when = forms.DateTimeField()

    def clean(self):
        raise forms.ValidationError("Nothing <here> is right")


def test_labels_and_errors_say_what_djangos_own_templates_say():
    ours, theirs = (
        Refused({"when": "never"}, renderer=FormRenderer()),
        Refused({"when": "never"}, renderer=DjangoTemplates()),
    )

    for render in (
        lambda form: str(form),
        lambda form: str(form.errors),
        lambda form: str(form.non_field_errors()),
        lambda form: str(form["when"].errors),
        lambda form: form["name"].label_tag(),
    ):
        assert parse_html(render(ours)) == parse_html(render(theirs))


def test_a_widget_jinja2_has_no_template_for_renders_with_the_projects_engines():
    html = AdminURLFieldWidget().render("link", "https://example.com/", renderer=FormRenderer())

    assert 'class="vURLField"' in html
    assert '<a href="https://example.com/">' in html
