import json
from typing import Any

from django import forms

from incidents import policy
from incidents.models import ActionItem, Incident, Service, Severity, StatusUpdate
from incidents.selectors import service_choices
from portal.accounts.models import User
from portal.accounts.roles import Role, holders
from portal.core import forms as portal_forms


def responder_field(**kwargs: Any) -> forms.ModelChoiceField:
    """Someone to hold an incident role or own its work: the picker offers active Responders and above, and names
    anyone else sent (a person demoted since the page was drawn)."""
    return forms.ModelChoiceField(
        queryset=holders(Role.RESPONDER), to_field_name="username",
        error_messages={"invalid_choice": "%(value)s is not an active Responder: pick someone who can act on it."},
        **kwargs,
    )  # fmt: skip


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
    is_public = forms.BooleanField(required=False, label="Public: on the status page and emailed to its subscribers")

    @classmethod
    def prefilled(cls, incident: Incident, user: User) -> "StatusUpdateForm":
        """The seeds' template, started from where the incident is; public or internal by the default rule."""
        label = {
            Incident.Status.IDENTIFIED: StatusUpdate.Label.IDENTIFIED,
            Incident.Status.MITIGATING: StatusUpdate.Label.IDENTIFIED,
            Incident.Status.MONITORING: StatusUpdate.Label.MONITORING,
            Incident.Status.RESOLVED: StatusUpdate.Label.RESOLVED,
        }.get(incident.status, StatusUpdate.Label.INVESTIGATING)
        form = cls(
            initial={
                "label": label,
                "description": policy.update_draft(incident, label),
                "impact": incident.impact_summary,
                "next_update_minutes": incident.severity.update_minutes,
                "is_public": policy.update_public_by_default(incident, user),
            }
        )
        form.for_incident(incident)
        return form

    def for_incident(self, incident: Incident) -> None:
        """The drafts follow the chosen status (portal.js swaps an untouched description); an internal incident
        takes internal updates only."""
        drafts = {label: policy.update_draft(incident, label) for label in StatusUpdate.Label.values}
        self.fields["description"].widget.attrs["data-drafts"] = json.dumps(drafts)
        if not incident.is_public:
            self.fields["is_public"].disabled = True
            self.fields["is_public"].help_text = "The incident is internal: its updates stay internal."


class NoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Note")


class VersionForm(forms.Form):
    version = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)


class TransitionForm(VersionForm):
    to_status = forms.ChoiceField(choices=Incident.Status.choices)
    note = forms.CharField(required=False)
    confirm = forms.BooleanField(required=False)
    final_update = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class SeverityForm(VersionForm):
    severity = forms.ModelChoiceField(queryset=Severity.objects.all(), to_field_name="code", empty_label=None)
    reason = forms.CharField(max_length=300)


class AssignForm(VersionForm):
    commander = responder_field()

    @classmethod
    def for_incident(cls, incident: Incident) -> "AssignForm":
        """The picker starts at the current commander."""
        return cls(initial={"commander": incident.commander.username if incident.commander else None})


class RoleForm(VersionForm):
    """One of the roles beside the commander; choosing nobody leaves it empty."""

    holder: User | None = None
    role = forms.ChoiceField(choices=Incident.Role.choices, widget=forms.HiddenInput)
    user = responder_field(required=False, empty_label="nobody")

    @classmethod
    def for_incident(cls, incident: Incident, role: str) -> "RoleForm":
        holder = getattr(incident, role)
        form = cls(
            initial={"role": role, "user": holder.username if holder else None},
            auto_id=f"{role}-%s",
        )
        form.fields["user"].label = Incident.Role(role).label
        form.holder = holder
        return form


class DetailsForm(VersionForm):
    title = portal_forms.LineField(max_length=200)
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.all(), to_field_name="slug", required=False)
    impact_summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Impact summary")
    is_public = forms.BooleanField(required=False, label="Public (status page, subscriber emails)")

    @classmethod
    def for_incident(cls, incident: Incident) -> "DetailsForm":
        initial = {
            "title": incident.title,
            "services": [service.slug for service in incident.services.all()],
            "impact_summary": incident.impact_summary,
            "is_public": incident.is_public,
        }
        form = cls(initial=initial, auto_id="details-%s")
        form.fields["services"].choices = service_choices()  # cached; the field's queryset still validates
        return form


class EscalateForm(forms.Form):
    reason = portal_forms.LineField(max_length=300)


class FlagForm(forms.Form):
    flag = forms.ChoiceField(choices=Incident.Flag.choices)


class ReviewForm(forms.Form):
    facts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12}), required=False, label="What happened (drafted from the incident)"
    )
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    root_cause = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    contributing_factors = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    version = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    SECTIONS = ("facts", "summary", "root_cause", "contributing_factors")


class NewActionItemForm(forms.Form):
    """The review page sends every field with every button, so nothing here is required in the browser; the server
    checks a new item when it is added."""

    use_required_attribute = False
    title = portal_forms.LineField(max_length=200)
    owner = responder_field()
    due_date = portal_forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    ticket_url = forms.URLField(max_length=500, required=False, label="Ticket URL", assume_scheme="https")


class ActionItemForm(NewActionItemForm):
    """An existing action item, as a row of the review page. `tracking_only`: only its status and ticket move (a
    Responder's edit, or the title of a published review's item, which stays as published)."""

    status = forms.ChoiceField(choices=ActionItem.Status.choices)

    def __init__(self, *args: Any, item: ActionItem, tracking_only: bool = False, title_frozen: bool = False,
                 **kwargs: Any) -> None:  # fmt: skip
        initial = {"title": item.title, "owner": item.owner.username, "due_date": item.due_date,
                   "status": item.status, "ticket_url": item.ticket_url}  # fmt: skip
        super().__init__(*args, initial=initial, prefix=f"item-{item.pk}", **kwargs)
        self.item = item
        frozen = set(self.fields) - policy.ACTION_ITEM_TRACKING_FIELDS if tracking_only else set()
        for name in frozen | ({"title"} if title_frozen else set()):
            self.fields[name].disabled = True

    def changes(self) -> dict[str, Any]:
        """What differs from the item as stored."""
        return {name: value for name, value in self.cleaned_data.items() if value != getattr(self.item, name)}
