from django import forms

from incidents.models import Incident
from maintenance.forms import emergency_incidents
from maintenance.models import MaintenanceOccurrence
from operations.models import BackupVerification, DrillPlan, Procedure, ProcedureRun, RecoveryObjective
from portal.core import forms as portal_forms


class BackupVerificationForm(forms.Form):
    day = portal_forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    result = forms.ChoiceField(choices=BackupVerification.Result.choices)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class DrillRecordForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=DrillPlan.objects.all(), required=False)
    objective = forms.ModelChoiceField(
        queryset=RecoveryObjective.objects.all(), required=False, help_text="Empty: the plan's objective."
    )
    performed_at = portal_forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                       help_text="UTC")  # fmt: skip
    measured_rto_minutes = forms.IntegerField(min_value=0, label="Measured RTO (min)")
    measured_rpo_minutes = forms.IntegerField(min_value=0, label="Measured RPO (min)")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class TickForm(forms.Form):
    done = forms.BooleanField(required=False)


class ProcedureStartForm(forms.Form):
    procedure = forms.ModelChoiceField(queryset=Procedure.objects.filter(active=True), to_field_name="slug")
    kind = forms.ChoiceField(choices=ProcedureRun.Kind.choices)
    incident = forms.ModelChoiceField(queryset=Incident.objects.all(), required=False, widget=forms.HiddenInput)
    drill_plan = forms.ModelChoiceField(queryset=DrillPlan.objects.all(), required=False, help_text="Drills only.")
    maintenance = forms.ModelChoiceField(
        queryset=MaintenanceOccurrence.objects.all(), required=False, widget=forms.HiddenInput
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class StepDoneForm(forms.Form):
    note = forms.CharField(required=False, max_length=500)


class AbandonForm(forms.Form):
    reason = forms.CharField(max_length=500)


class DrillFromRunForm(forms.Form):
    measured_rpo_minutes = forms.IntegerField(min_value=0, label="Measured RPO (min)")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class DeploymentStartForm(forms.Form):
    override_reason = portal_forms.LineField(
        max_length=300, required=False, label="Override reason (pre-deployment items left open)"
    )
    incident = forms.ModelChoiceField(
        queryset=emergency_incidents(), required=False, label="Emergency for incident (during a freeze)"
    )
