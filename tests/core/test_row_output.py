"""RowOutput (portal.core.api.serializers) writes rows of values as DRF's own Serializer would, field by field."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from portal.core.api.fields import DateTimeField
from portal.core.api.serializers import RowOutput

FIELDS = {
    "id": lambda: serializers.IntegerField(),
    "name": lambda: serializers.CharField(source="title"),
    "status": lambda: serializers.ChoiceField(choices=[("open", "Open"), ("closed", "Closed")]),
    "tags": lambda: serializers.ListField(child=serializers.SlugField()),
    "at": lambda: DateTimeField(allow_null=True),
    "plain_at": lambda: serializers.DateTimeField(allow_null=True),
    "public": lambda: serializers.BooleanField(),
    "snapshot": lambda: serializers.JSONField(),
    "owner": lambda: serializers.CharField(allow_null=True),
    "secret": lambda: serializers.CharField(write_only=True),
    "reference": lambda: serializers.SerializerMethodField(),
}


def _output(base: type[serializers.Serializer]) -> type[serializers.Serializer]:
    def get_reference(self, row: dict) -> str:
        return f"INC-{row['id']}"

    return type(f"Twin{base.__name__}", (base,), {name: make() for name, make in FIELDS.items()}
                | {"get_reference": get_reference})  # fmt: skip


ROWS = [
    {"id": 1, "title": "Checkout <errors>", "status": "open", "tags": ["api", "web"], "secret": "s3",
     "at": datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC), "plain_at": datetime(2026, 11, 27, 10, tzinfo=UTC),
     "public": True, "snapshot": {"levels": [{"after": 5}]}, "owner": "payments"},
    {"id": 2, "title": "", "status": "closed", "tags": [], "secret": "", "at": None, "plain_at": None,
     "public": False, "snapshot": {}, "owner": None},
]  # fmt: skip


def test_rows_are_written_as_drfs_serializer_writes_them():
    ours, drfs = _output(RowOutput), _output(serializers.Serializer)

    assert ours(ROWS, many=True).data == drfs(ROWS, many=True).data
    assert ours(ROWS[0]).data == drfs(ROWS[0]).data
    assert "secret" not in ours(ROWS[0]).data
    assert list(ours(ROWS[1]).data) == list(drfs(ROWS[1]).data)  # the same keys in the same order


def test_a_nested_source_is_refused_when_first_used():
    class Nested(RowOutput):
        severity = serializers.CharField(source="severity.code")

    with pytest.raises(ImproperlyConfigured, match="Nested.severity reads a nested source"):
        _ = Nested({"severity": {"code": "P1"}}).data
