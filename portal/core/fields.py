"""Model fields whose values are secrets: encrypted in the database (portal.core.encryption), plain in Python.

They validate like the field they extend (max_length, URL) on the plaintext, and store a longer ciphertext in a
text column. Fernet tokens are random, so the database cannot compare them: only `isnull` lookups are offered, and a
filter on the value fails loudly instead of silently matching nothing.
"""

from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Expression, Lookup, Transform

from portal.core.encryption import decrypt, encrypt


class EncryptedFieldMixin(models.Field):  # type: ignore[type-arg]
    def get_internal_type(self) -> str:
        return "TextField"  # the column holds the ciphertext, which outgrows max_length

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return encrypt(value) if value else value

    def from_db_value(self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper) -> str | None:
        return decrypt(value, what=f"{self.model._meta.label}.{self.name}") if value else value

    def get_lookup(self, lookup_name: str) -> type[Lookup] | None:
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_transform(self, lookup_name: str) -> type[Transform] | None:
        return None


class EncryptedCharField(EncryptedFieldMixin, models.CharField):  # type: ignore[type-arg]
    pass


class EncryptedURLField(EncryptedFieldMixin, models.URLField):  # type: ignore[type-arg]
    pass
