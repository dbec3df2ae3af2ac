import copy
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ManyToManyField
from rest_framework import serializers


class CleanedModelSerializer(serializers.ModelSerializer):
    """Runs the model's `clean()` so the API enforces the same rules as the admin, as a 400 naming the field."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = copy.copy(self.instance) if self.instance else self.Meta.model()
        for field, value in attrs.items():
            if not isinstance(self.Meta.model._meta.get_field(field), ManyToManyField):
                setattr(instance, field, value)
        try:
            instance.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc
        return attrs
