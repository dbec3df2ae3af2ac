"""The API's fields for text, instants and dates: DRF's, refusing what the portal cannot store or compute with (a 400
naming the field instead of a 500 further in). `portal.core.api.serializers.ModelSerializer` maps model fields to
them; input serializers declare them."""

from datetime import date, datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

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
    """An instant in the years the portal computes with (portal.instants) and with a real UTC offset."""

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
