"""FixedInput (portal.core.api.serializers) validates as DRF's own Serializer does, with its fields built once."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.http import QueryDict
from rest_framework import serializers

from portal.core.api.fields import DateTimeField, LineField
from portal.core.api.serializers import FixedInput

FIELDS = {
    "environment": lambda: serializers.ChoiceField(choices=[("production", "Production"), ("staging", "Staging")]),
    "at": lambda: DateTimeField(required=False),
    "change": lambda: LineField(required=False, max_length=12),
    "emergency": lambda: serializers.BooleanField(required=False, default=False),
    "count": lambda: serializers.IntegerField(required=False, min_value=1, max_value=10),
    "tags": lambda: serializers.ListField(child=serializers.SlugField(), required=False),
}


def _input(base: type[serializers.Serializer]) -> type[serializers.Serializer]:
    return type(f"Twin{base.__name__}", (base,), {name: make() for name, make in FIELDS.items()})


OURS, DRFS = _input(FixedInput), _input(serializers.Serializer)

QUERIES = [
    "environment=production",
    "environment=staging&at=2026-11-27T10:00:00Z&change=PR-1&emergency=true&count=3&tags=api&tags=web",
    "environment=moon&at=yesterday&change=a-very-long-change-id&emergency=maybe&count=11&tags=no%20spaces",
    "",
    "environment=production&at=2026-11-27T10:00:00&count=0",  # no offset, below the minimum
]


def _answer(input_class: type[serializers.Serializer], query: str) -> tuple[bool, dict, dict]:
    payload = input_class(data=QueryDict(query))
    valid = payload.is_valid()
    return valid, dict(payload.validated_data) if valid else {}, payload.errors


@pytest.mark.parametrize("query", QUERIES)
def test_validates_as_drfs_serializer_validates(query):
    assert _answer(OURS, query) == _answer(DRFS, query)


def test_its_fields_are_built_once_per_class():
    assert OURS().fields is OURS(data={}).fields
    assert DRFS().fields is not DRFS().fields  # DRF deep-copies them for every instance


def test_requests_validated_at_once_each_get_their_own_answer():
    queries = QUERIES * 40
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda query: _answer(OURS, query), queries))
    assert answers == [_answer(DRFS, query) for query in queries]
