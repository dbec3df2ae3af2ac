"""The API's body parsers: DRF's, refusing bodies no view could use before any view sees them.

- JSON nested deeper than MAX_DEPTH (Python's parser would otherwise hit its recursion limit, a 500);
- NUL characters in any value or key, JSON or form (PostgreSQL stores NUL in neither text nor JSON): a 400 naming
  the field, whatever field type or lookup would have met it;
- a JSON body over DATA_UPLOAD_MAX_MEMORY_SIZE, which Django enforces for form bodies only: refused as Django
  refuses those (RequestDataTooBig, a 400).
"""

import codecs
from collections.abc import Iterator, Mapping
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import QueryDict
from rest_framework import exceptions, parsers
from rest_framework.utils import json

MAX_DEPTH = 64
Context = Mapping[str, Any] | None


def _walk(data: object) -> Iterator[tuple[str, object]]:
    """(path, value) of every key and value in `data`, without recursion."""
    stack: list[tuple[str, object]] = [("", data)]
    while stack:
        path, value = stack.pop()
        yield path, value
        if isinstance(value, Mapping):
            for key, item in value.items():
                yield path, key
                stack.append((f"{path}.{key}" if path else str(key), item))
        elif isinstance(value, list | tuple):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))


def _deeper_than(data: object, limit: int) -> bool:
    """Whether a value lies more than `limit` levels deep (the document itself is level 1)."""
    stack: list[tuple[int, object]] = [(1, data)]
    while stack:
        depth, value = stack.pop()
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        if items and depth >= limit:
            return True
        stack.extend((depth + 1, item) for item in items if isinstance(item, dict | list))
    return False


def _refuse_nul(field: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({field or "non_field_errors": ["Must not contain NUL characters."]})


def check_json(data: object, text: str) -> None:
    """`data`, parsed from `text`: refused if nested too deep or holding a NUL anywhere. JSON writes a NUL only as
    the escape \\u0000 (a raw one fails to parse), so only a body whose text has one is searched for it: naming its
    path for every value was most of the time to check an alert storm's payload."""
    if _deeper_than(data, MAX_DEPTH):
        raise exceptions.ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep.")
    if "\\u0000" in text:
        for path, value in _walk(data):
            if isinstance(value, str) and "\x00" in value:
                raise _refuse_nul(path)


def check_form(data: QueryDict) -> None:
    for key, values in data.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            raise _refuse_nul(key)


class JSONParser(parsers.JSONParser):
    limit_setting = "DATA_UPLOAD_MAX_MEMORY_SIZE"  # a view with larger bodies names its own setting

    def too_large(self, limit: int) -> Exception:
        return RequestDataTooBig(f"Request body exceeded settings.{self.limit_setting}.")

    def parse(self, stream: IO[Any], media_type: str | None = None, parser_context: Context = None) -> Any:
        limit = getattr(settings, self.limit_setting)
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise self.too_large(limit)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        constant = json.strict_constant if self.strict else None
        try:
            text = codecs.decode(raw, encoding)
            data = json.loads(text, parse_constant=constant)
        except RecursionError as exc:
            raise exceptions.ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep.") from exc
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        check_json(data, text)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream: IO[Any], media_type: str | None = None, parser_context: Context = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        check_form(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream: IO[Any], media_type: str | None = None, parser_context: Context = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        check_form(parsed.data)
        return parsed
