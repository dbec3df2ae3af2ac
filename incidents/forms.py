from django import forms

from incidents.models import Incident, Service, Severity, StatusUpdate
from portal.accounts.models import User
from portal.core import forms as portal_forms


class DeclareForm(forms.Form):
    title = portal_forms.LineField(max_length=200)
    severity = forms.ModelChoiceField(queryset=Severity.objects.all(), to_field_name="code", empty_label=None)
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.all(), to_field_name="slug", required=False)
    impact_summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    is_public = forms.BooleanField(required=False, label="Public (status page, subscriber emails)")
    flags = forms.MultipleChoiceField(
        choices=Incident.Flag.choices, required=False, widget=forms.CheckboxSelectMultiple,
        label="Escalate immediately (raises to P1)",
    )  # fmt: skip


class StatusUpdateForm(forms.Form):
    label = forms.ChoiceField(choices=StatusUpdate.Label.choices, label="Status")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    impact = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    next_update_minutes = forms.IntegerField(min_value=1, max_value=10080, required=False, label="Next update in (min)")

    @classmethod
    def prefilled(cls, incident: Incident) -> "StatusUpdateForm":
        """The seeds' template, started from where the incident is."""
        label = {
            Incident.Status.IDENTIFIED: StatusUpdate.Label.IDENTIFIED,
            Incident.Status.MITIGATING: StatusUpdate.Label.IDENTIFIED,
            Incident.Status.MONITORING: StatusUpdate.Label.MONITORING,
            Incident.Status.RESOLVED: StatusUpdate.Label.RESOLVED,
        }.get(incident.status, StatusUpdate.Label.INVESTIGATING)
        services = ", ".join(service.name for service in incident.services.all()) or "the affected services"
        issue = incident.title.lower()
        description = {
            StatusUpdate.Label.INVESTIGATING: f"We are currently investigating {issue} affecting {services}.",
            StatusUpdate.Label.IDENTIFIED: f"We have identified the cause of {issue} and are working on a fix.",
            StatusUpdate.Label.MONITORING: f"A fix for {issue} is in place; we are monitoring the results.",
            StatusUpdate.Label.RESOLVED: f"The {issue} affecting {services} has been resolved.",
        }[label]
        return cls(
            initial={
                "label": label,
                "description": description,
                "impact": incident.impact_summary,
                "next_update_minutes": incident.severity.update_minutes,
            }
        )


class NoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Note")


class VersionForm(forms.Form):
    version = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)


class TransitionForm(VersionForm):
    to_status = forms.ChoiceField(choices=Incident.Status.choices)
    note = forms.CharField(required=False)
    confirm = forms.BooleanField(required=False)


class SeverityForm(VersionForm):
    severity = forms.ModelChoiceField(queryset=Severity.objects.all(), to_field_name="code", empty_label=None)
    reason = forms.CharField(max_length=300)


class AssignForm(VersionForm):
    commander = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True), to_field_name="username")


class EscalateForm(forms.Form):
    reason = portal_forms.LineField(max_length=300)


class FlagForm(forms.Form):
    flag = forms.ChoiceField(choices=Incident.Flag.choices)


class ReviewForm(forms.Form):
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    root_cause = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    contributing_factors = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    version = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)


class ActionItemForm(forms.Form):
    title = portal_forms.LineField(max_length=200)
    owner = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True), to_field_name="username")
    due_date = portal_forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
