"""The API's fields for text, instants and dates: DRF's, refusing what the portal cannot store or compute with (a 400
naming the field instead of a 500 further in). `portal.core.api.serializers.ModelSerializer` maps model fields to
them; input serializers declare them."""

from datetime import UTC, date, datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from portal.instants import date_problem, instant_problem
from portal.text import one_line_validator, text_validator


class LineField(serializers.CharField):
    """One line of text (what a model CharField stores): no line breaks, no control characters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(one_line_validator)  # also when `validators` is given (ModelSerializer gives it)


class TextField(serializers.CharField):
    """Text (what a model TextField stores): line breaks and tabs, no other control characters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(text_validator)


class DateTimeField(serializers.DateTimeField):
    """An instant in the years the portal computes with (portal.instants) and with a real UTC offset; written in UTC
    ("Z"), as the API gives every instant."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        output = getattr(self, "format", api_settings.DATETIME_FORMAT)
        self._utc_iso = isinstance(output, str) and output.lower() == ISO_8601 and not hasattr(self, "timezone")

    def to_representation(self, value: datetime | str | None) -> str | None:
        # DRF first converts each instant to the current time zone, which for the portal is always UTC (TIME_ZONE;
        # none is activated): 4 us a value, half of serialising a page of 50 incidents. The same text, directly.
        if self._utc_iso and isinstance(value, datetime) and value.tzinfo is not None:
            try:
                return value.astimezone(UTC).isoformat()[:-6] + "Z"
            except OverflowError:
                pass  # DRF's answer to it
        text: str | None = super().to_representation(value)
        return text

    def to_internal_value(self, value: object) -> datetime:
        # Checked as sent, before DRF converts it to UTC: that conversion loses the offset, or overflows.
        if (sent := _as_sent(value)) is not None and (problem := instant_problem(sent)):
            raise serializers.ValidationError(problem, code="range")
        return super().to_internal_value(value)


def _as_sent(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible (a 13th month): DRF's own parsing says so
        return None


class DateField(serializers.DateField):
    """A date in the years the portal computes with (portal.instants)."""

    def to_internal_value(self, value: object) -> date:
        parsed = super().to_internal_value(value)
        if problem := date_problem(parsed):
            raise serializers.ValidationError(problem, code="range")
        return parsed
