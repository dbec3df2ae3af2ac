import re
import zoneinfo
from datetime import datetime

from django import forms

from incidents.models import Service
from oncall.models import Layer
from portal.accounts.models import User
from portal.accounts.roles import Role, holders
from portal.core import forms as portal_forms
from portal.instants import YEARS
from portal.scheduling import ScheduleError, local_instant

WEEKDAYS = [
    ("MO", "Monday"),
    ("TU", "Tuesday"),
    ("WE", "Wednesday"),
    ("TH", "Thursday"),
    ("FR", "Friday"),
    ("SA", "Saturday"),
    ("SU", "Sunday"),
]
_PRESET = re.compile(r"^FREQ=(WEEKLY|DAILY)(?:;INTERVAL=(\d+))?(?:;BYDAY=(MO|TU|WE|TH|FR|SA|SU))?$")


class PeopleField(forms.CharField):
    """Usernames in order, separated by commas or new lines; the order is the rotation's."""

    widget = forms.Textarea(attrs={"rows": 2})

    def clean(self, value: str) -> list[User]:  # type: ignore[override]
        names = [name for name in re.split(r"[\s,]+", super().clean(value) or "") if name]
        found = {user.username: user for user in User.objects.filter(username__in=names)}
        if unknown := [name for name in names if name not in found]:
            raise forms.ValidationError(f"Unknown user(s): {', '.join(unknown)}.")
        return [found[name] for name in names]


class LocalDateTimeField(forms.DateTimeField):
    """A wall-clock date and time typed in the rotation's zone, made an instant by the time engine's DST rule."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
    zone = "UTC"

    def to_python(self, value: object) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        if parsed.year not in YEARS:
            raise forms.ValidationError(f"Give a date between {YEARS.start} and {YEARS.stop - 1}.")
        try:
            return local_instant(day=parsed.date(), wall_time=parsed.time().replace(tzinfo=None), zone=self.zone)
        except ScheduleError as exc:
            raise forms.ValidationError(exc.message) from exc


def _localise(form: forms.Form, zone: str) -> None:
    for field in form.fields.values():
        if isinstance(field, LocalDateTimeField):
            field.zone = zone
            field.help_text = f"In {zone}."


class RotationForm(forms.Form):
    name = portal_forms.LineField(max_length=100)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    lead = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True),
        to_field_name="username",
        required=False,
        help_text="Told when a handoff is not acknowledged within an hour.",
    )
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.all(), to_field_name="slug", required=False)
    timezone = forms.ChoiceField(
        choices=[(name, name) for name in sorted(zoneinfo.available_timezones())], initial="UTC", label="Time zone"
    )
    frequency = forms.ChoiceField(
        choices=[("weekly", "Weekly"), ("daily", "Daily"), ("custom", "Custom RRULE")], label="Handoffs"
    )
    every = forms.IntegerField(min_value=1, max_value=52, initial=1, label="Every (weeks or days)")
    weekday = forms.ChoiceField(choices=WEEKDAYS, initial="MO", required=False, label="Weekday (weekly)")
    custom_rrule = portal_forms.LineField(
        max_length=200,
        required=False,
        label="Custom RRULE",
        help_text="e.g. FREQ=HOURLY;INTERVAL=12 for 12-hour shifts.",
    )
    handoff_time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}), label="Handoff time (local)")
    start_date = portal_forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The first handoff is on or after this date; it goes to the first person.",
    )
    participants = PeopleField(help_text="Usernames in rotation order, separated by commas.")
    secondary_participants = PeopleField(
        required=False, help_text="Optional. Empty: the secondary is the next person in the order."
    )
    effective_from = LocalDateTimeField(required=False, label="Takes effect", help_text="Empty: at the next handoff.")

    def __init__(self, *args: object, editing: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if not editing:
            del self.fields["effective_from"]
        _localise(self, str(self.data.get("timezone") or self.initial.get("timezone") or "UTC"))

    @staticmethod
    def preset(rrule: str) -> dict[str, object]:
        """Form values for a stored rule: a weekly or daily preset when it is one, else the custom rule."""
        match = _PRESET.match(rrule)
        if match is None or (match[1] == "DAILY" and match[3]):
            return {"frequency": "custom", "custom_rrule": rrule}
        values: dict[str, object] = {"frequency": match[1].lower(), "every": int(match[2] or 1)}
        if match[3]:
            values["weekday"] = match[3]
        return values

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        frequency, every = data.get("frequency"), data.get("every") or 1
        if frequency == "custom":
            if not data.get("custom_rrule"):
                self.add_error("custom_rrule", "Write the RRULE, or pick weekly or daily.")
            data["handoff_rrule"] = data.get("custom_rrule", "")
        elif frequency == "weekly":
            data["handoff_rrule"] = f"FREQ=WEEKLY;INTERVAL={every};BYDAY={data.get('weekday') or 'MO'}".replace(
                "INTERVAL=1;", ""
            )
        else:
            data["handoff_rrule"] = f"FREQ=DAILY;INTERVAL={every}".removesuffix(";INTERVAL=1")
        return data


class OverrideForm(forms.Form):
    layer = forms.ChoiceField(choices=Layer.choices)
    user = forms.ModelChoiceField(queryset=holders(Role.RESPONDER), to_field_name="username", label="Who covers")
    start = LocalDateTimeField()
    end = LocalDateTimeField()
    reason = portal_forms.LineField(max_length=200, required=False)

    def __init__(self, *args: object, zone: str = "UTC", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["user"].queryset = holders(Role.RESPONDER)  # type: ignore[attr-defined]
        _localise(self, zone)


class SwapForm(forms.Form):
    """Pick a shift you hold and one someone else holds, on the same layer (shifts traded away are not offered)."""

    shift = forms.ChoiceField(label="Your shift")
    counterparty_shift = forms.ChoiceField(label="Their shift")
    note = portal_forms.LineField(max_length=200, required=False)

    def __init__(
        self, *args: object, mine: list[tuple[str, str]], theirs: list[tuple[str, str]], **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["shift"].choices = mine  # type: ignore[attr-defined]
        self.fields["counterparty_shift"].choices = theirs  # type: ignore[attr-defined]

    @staticmethod
    def mine_value(layer: str, start: datetime) -> str:
        return f"{layer}|{start.isoformat()}"

    @staticmethod
    def theirs_value(layer: str, user: User, start: datetime) -> str:
        return f"{layer}|{user.username}|{start.isoformat()}"

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if "shift" not in data or "counterparty_shift" not in data:
            return data
        layer, start = str(data["shift"]).split("|")
        their_layer, username, their_start = str(data["counterparty_shift"]).split("|")
        if their_layer != layer:
            self.add_error("counterparty_shift", "Pick a shift on the same layer as yours.")
            return data
        data.update(
            layer=layer,
            shift_start=datetime.fromisoformat(start),
            counterparty=User.objects.get(username=username),
            counterparty_shift_start=datetime.fromisoformat(their_start),
        )
        return data
