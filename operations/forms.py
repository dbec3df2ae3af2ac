from django import forms

from maintenance.forms import emergency_incidents
from operations.models import BackupVerification, DrillPlan, RecoveryObjective
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


class DeploymentStartForm(forms.Form):
    override_reason = portal_forms.LineField(
        max_length=300, required=False, label="Override reason (pre-deployment items left open)"
    )
    incident = forms.ModelChoiceField(
        queryset=emergency_incidents(), required=False, label="Emergency for incident (during a freeze)"
    )
