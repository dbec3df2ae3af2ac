from datetime import timedelta

from django import forms
from django.db.models import QuerySet

from incidents.models import Incident, Service
from maintenance import policy
from maintenance.models import FreezeLevel, MaintenanceOccurrence, MaintenanceWindow
from portal.accounts.models import User
from portal.core import forms as portal_forms
from portal.core.models import Environment


def emergency_incidents() -> QuerySet[Incident]:
    """What a form offers as an emergency's incident: the open P1s and P2s."""
    closed = [Incident.Status.RESOLVED, Incident.Status.REVIEW, Incident.Status.CLOSED]
    return Incident.objects.exclude(status__in=closed).filter(severity__rank__lte=policy.EMERGENCY_MAX_SEVERITY_RANK)


def _longest_minutes(kind: str) -> int:
    return policy.LONGEST_OCCURRENCE[kind] // timedelta(minutes=1)


# Browsers send datetime-local without an offset; the pages say "times in UTC" and these fields read them so.
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"})
DATE = forms.DateInput(attrs={"type": "date"})


class MonthForm(forms.Form):
    month = portal_forms.DateField(input_formats=["%Y-%m"], required=False, help_text="YYYY-MM")


class WindowForm(forms.Form):
    name = portal_forms.LineField(max_length=120)
    kind = forms.ChoiceField(
        choices=[(MaintenanceWindow.Kind.ONE_OFF, "One-off"), (MaintenanceWindow.Kind.RECURRING, "Recurring")]
    )
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.all(), to_field_name="slug", required=False)
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True), to_field_name="username", required=False
    )
    expected_impact = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    environment = forms.ChoiceField(choices=Environment.choices, initial=Environment.PRODUCTION)
    starts_at = portal_forms.DateTimeField(widget=DATETIME, required=False, label="Starts at (one-off, UTC)")
    rrule = portal_forms.LineField(
        max_length=200, required=False, label="RRULE (recurring)", help_text="e.g. FREQ=WEEKLY;BYDAY=TU"
    )
    dtstart = portal_forms.DateField(widget=DATE, required=False, label="From (recurring)")
    start_time = forms.TimeField(
        widget=forms.TimeInput(attrs={"type": "time"}), required=False, label="Start time (recurring, local)"
    )
    zone = portal_forms.LineField(max_length=64, initial="UTC")
    duration_minutes = forms.IntegerField(
        min_value=1, max_value=_longest_minutes(MaintenanceWindow.Kind.ONE_OFF), label="Duration (minutes)"
    )
    notice_hours = forms.IntegerField(min_value=0, max_value=90 * 24, initial=24, label="Notice (hours ahead)")


class EmergencyForm(forms.Form):
    name = portal_forms.LineField(max_length=90, label="What")
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.all(), to_field_name="slug", required=False)
    duration_minutes = forms.IntegerField(
        min_value=1,
        max_value=_longest_minutes(MaintenanceWindow.Kind.EMERGENCY),
        initial=60,
        label="Duration (minutes)",
    )
    expected_impact = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    incident = forms.ModelChoiceField(
        queryset=emergency_incidents(), required=False, label="For incident (during a freeze: an open P1/P2)",
        error_messages={"invalid_choice": "Emergency maintenance answers an open P1 or P2 incident; this one is not."},
    )  # fmt: skip


class WindowEditForm(forms.Form):
    name = portal_forms.LineField(max_length=120)
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True), to_field_name="username", required=False
    )
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.all(), to_field_name="slug", required=False)
    expected_impact = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    active = forms.BooleanField(required=False)


class MaterializeForm(forms.Form):
    original_start = portal_forms.DateTimeField()


class TransitionForm(forms.Form):
    to_status = forms.ChoiceField(choices=MaintenanceOccurrence.Status.choices)
    note = portal_forms.LineField(max_length=500, required=False)
    ends_at = portal_forms.DateTimeField(widget=DATETIME, required=False, label="New end (UTC)")
    incident = forms.ModelChoiceField(
        queryset=emergency_incidents(), required=False, label="Emergency for incident (during a freeze)"
    )
    override_reason = portal_forms.LineField(
        max_length=300, required=False, label="Override reason (checklist items left open)"
    )


class RescheduleForm(forms.Form):
    starts_at = portal_forms.DateTimeField(widget=DATETIME, label="New start (UTC)")
    ends_at = portal_forms.DateTimeField(widget=DATETIME, label="New end (UTC)")
    reason = portal_forms.LineField(max_length=500, required=False)


class TickForm(forms.Form):
    done = forms.BooleanField(required=False)


class FreezeForm(forms.Form):
    name = portal_forms.LineField(max_length=120)
    level = forms.ChoiceField(choices=FreezeLevel.choices)
    environments = forms.MultipleChoiceField(
        choices=Environment.choices, initial=[Environment.PRODUCTION], widget=forms.CheckboxSelectMultiple
    )
    first_day = portal_forms.DateField(widget=DATE)
    last_day = portal_forms.DateField(widget=DATE)
    zone = portal_forms.LineField(max_length=64, initial="UTC")
    reason = portal_forms.LineField(max_length=300, required=False)


class ExceptionForm(forms.Form):
    change = portal_forms.LineField(max_length=300, label="Change (id or link)")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    environment = forms.ChoiceField(choices=Environment.choices, initial=Environment.PRODUCTION)
    starts_at = portal_forms.DateTimeField(widget=DATETIME, label="From (UTC)")
    ends_at = portal_forms.DateTimeField(widget=DATETIME, label="Until (UTC)")
    incident = forms.ModelChoiceField(
        queryset=emergency_incidents(),
        required=False,
        label="Emergency for incident (open P1/P2; passes blocked freezes)",
    )


class DecisionForm(forms.Form):
    note = portal_forms.LineField(max_length=300, required=False)


class FrozenCheckForm(forms.Form):
    """The freeze page's "Is it frozen?" box: the deploy gate's question for an environment and an instant."""

    environment = forms.ChoiceField(choices=Environment.choices, initial=Environment.PRODUCTION)
    at = portal_forms.DateTimeField(widget=DATETIME, label="At (UTC)")


class StatusSubscribeForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.all(), to_field_name="slug", required=False, widget=forms.CheckboxSelectMultiple,
        label="Only these services (none: all)",
    )  # fmt: skip
