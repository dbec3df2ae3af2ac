import copy
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import serializers

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
