import copy
import functools
from collections.abc import Callable
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

from portal.core.api import fields


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer with the portal's fields for text, instants and dates."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: fields.LineField,
        models.TextField: fields.TextField,
        models.DateTimeField: fields.DateTimeField,
        models.DateField: fields.DateField,
    }


class CleanedModelSerializer(ModelSerializer):
    """Runs the model's `clean()`, then checks its check constraints, so the API enforces the same rules as the admin
    and the database, as a 400 naming the field rather than an IntegrityError. For models saved by DRF itself; a
    service that saves validates instead."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self._candidate(attrs)
        try:
            instance.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc
        for constraint in instance._meta.constraints:
            if not isinstance(constraint, models.CheckConstraint):
                continue  # unique constraints: DRF's own validators
            try:
                constraint.validate(type(instance), instance)
            except DjangoValidationError as exc:
                named = sorted(constraint.condition.referenced_base_fields) or ["non_field_errors"]
                raise serializers.ValidationError(dict.fromkeys(named, exc.messages)) from exc
        return attrs

    def _candidate(self, attrs: dict[str, Any]) -> models.Model:
        """The instance as saving would leave it (its own columns; many-to-many fields and extra inputs aside)."""
        meta = self.Meta.model._meta
        instance = copy.copy(self.instance) if self.instance else self.Meta.model()
        for name, value in attrs.items():
            try:
                field = meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if field.concrete and not field.many_to_many:
                setattr(instance, name, value)
        return instance


class RowOutput(serializers.Serializer):
    """Output of rows read as values (dicts, as the lists' selectors read them), for lists of many rows.

    Each field reads its key (its `source`; a `source="*"` field such as a SerializerMethodField gets the whole row)
    and converts the value with its own `to_representation`, as DRF does, but without DRF's walk per field and row
    (`get_attribute` tries each step of the source on the instance) and with the fields built once per class rather
    than deep-copied for every response: serialising a page of 50 incidents, 28 fields each, took 1.39 ms and takes
    0.46. So its fields and methods read the row alone, never the serializer's context (the request)."""

    def to_representation(self, instance: dict[str, Any]) -> dict[str, Any]:
        data = {}
        for name, key, represent in _readings(type(self)):
            value = instance if key is None else instance[key]
            data[name] = None if value is None else represent(value)
        return data


@functools.cache
def _readings(output: type[RowOutput]) -> list[tuple[str, str | None, Callable[[Any], Any]]]:
    """Each field's name, key in the row (None: the whole row) and conversion, from a serializer of its own."""
    readings = []
    for field in output().fields.values():
        if field.write_only:
            continue
        if "." in field.source:
            raise ImproperlyConfigured(f"{output.__name__}.{field.field_name} reads a nested source")
        readings.append((field.field_name, None if field.source == "*" else field.source, field.to_representation))
    return readings


class FixedInput(serializers.Serializer):
    """Input (query parameters, mostly) validated by fields built once per class rather than deep-copied for every
    request: the deploy gate's five took 0.15-0.2 ms of each answer. So its fields hold nothing of one request and read
    no context, and it is never partial."""

    @property
    def fields(self) -> BindingDict:  # type: ignore[override]
        return _fixed_fields(type(self))


@functools.cache
def _fixed_fields(input_class: type[FixedInput]) -> BindingDict:
    template = input_class()
    bound = BindingDict(template)
    for name, field in template.get_fields().items():
        bound[name] = field
    return bound
