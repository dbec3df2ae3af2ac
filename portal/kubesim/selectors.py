"""Label and field selectors, parsed and matched the way the API server does (apimachinery labels/fields)."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_KEY = rf"(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?/)?{_NAME}"
_REQUIREMENT = re.compile(
    rf"""^\s*(?:
        !\s*(?P<absent>{_KEY})
      | (?P<key>{_KEY})(?:
            \s*(?P<op>==|=|!=)\s*(?P<value>{_NAME})?
          | \s+(?P<setop>in|notin)\s*\((?P<values>[^()]*)\)
          | \s*(?P<cmp>[<>])\s*(?P<number>-?\d+)
        )?
    )\s*$""",
    re.VERBOSE,
)
_VALUE = re.compile(rf"^(?:{_NAME})?$")


class SelectorError(ValueError):
    pass


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # in, notin, exists, !, gt, lt
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "in":
            return present and labels[self.key] in self.values
        if self.operator == "notin":
            return not present or labels[self.key] not in self.values
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if not present or not re.fullmatch(r"-?\d+", labels[self.key]):
            return False
        (bound,) = self.values
        number = int(labels[self.key])
        return number > int(bound) if self.operator == "gt" else number < int(bound)


def _split_top_level(text: str) -> list[str]:
    """Commas separate requirements, except inside the parentheses of `in (a,b)`."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def parse_label_selector(text: str) -> list[Requirement]:
    """Parse `a=b,c!=d,e in (f,g),!h,i` (labels.Parse); an empty string selects everything."""
    if not text.strip():
        return []
    requirements = []
    for part in _split_top_level(text):
        found = _REQUIREMENT.match(part)
        if not found:
            raise SelectorError(f"unable to parse requirement: {part.strip()!r}")
        if found["absent"]:
            requirements.append(Requirement(found["absent"], "!"))
        elif found["op"]:
            operator = "notin" if found["op"] == "!=" else "in"
            requirements.append(Requirement(found["key"], operator, frozenset([found["value"] or ""])))
        elif found["setop"]:
            values = [value.strip() for value in found["values"].split(",")]
            if not all(_VALUE.match(value) for value in values):
                raise SelectorError(f"invalid value in {part.strip()!r}")
            requirements.append(Requirement(found["key"], found["setop"], frozenset(values)))
        elif found["cmp"]:
            operator = "gt" if found["cmp"] == ">" else "lt"
            requirements.append(Requirement(found["key"], operator, frozenset([found["number"]])))
        else:
            requirements.append(Requirement(found["key"], "exists"))
    return requirements


def label_selector_requirements(selector: Mapping[str, Any]) -> list[Requirement]:
    """A LabelSelector object (`matchLabels` + `matchExpressions`) as requirements (LabelSelectorAsSelector)."""
    match_labels = selector.get("matchLabels", {})
    requirements = [Requirement(key, "in", frozenset([value])) for key, value in match_labels.items()]
    operators = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expression in selector.get("matchExpressions", []):
        operator = operators.get(expression.get("operator", ""))
        if operator is None:
            raise SelectorError(f"{expression.get('operator')!r} is not a valid label selector operator")
        values = frozenset(expression.get("values") or [])
        if (operator in {"in", "notin"}) != bool(values):
            raise SelectorError(f"operator {expression['operator']} with values {sorted(values)} is invalid")
        requirements.append(Requirement(expression["key"], operator, values))
    return requirements


def label_selector_string(selector: Mapping[str, Any]) -> str:
    """The canonical string form the API server reports, e.g. in Scale `status.selector`."""
    rendered = []
    for requirement in sorted(label_selector_requirements(selector), key=lambda r: r.key):
        values = ",".join(sorted(requirement.values))
        if requirement.operator == "in" and len(requirement.values) == 1:
            rendered.append(f"{requirement.key}={values}")
        elif requirement.operator in {"in", "notin"}:
            rendered.append(f"{requirement.key} {requirement.operator} ({values})")
        elif requirement.operator == "exists":
            rendered.append(requirement.key)
        else:
            rendered.append(f"!{requirement.key}")
    return ",".join(rendered)


def labels_match(requirements: list[Requirement], labels: Mapping[str, str] | None) -> bool:
    return all(requirement.matches(labels or {}) for requirement in requirements)


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    equal: bool


def parse_field_selector(text: str, supported: frozenset[str]) -> list[FieldRequirement]:
    """Parse `spec.nodeName=node-1,status.phase!=Failed`; like the API server, refuse fields it cannot select on."""
    requirements = []
    for part in filter(None, (part.strip() for part in text.split(","))):
        found = re.fullmatch(r"([A-Za-z.]+)\s*(==|=|!=)\s*(.*)", part)
        if not found:
            raise SelectorError(f"invalid field selector: {part!r}")
        field, operator, value = found.groups()
        if field not in supported:
            raise SelectorError(f'field label not supported: "{field}"')
        requirements.append(FieldRequirement(field, value.strip(), operator != "!="))
    return requirements


def field_value(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def fields_match(requirements: list[FieldRequirement], obj: Mapping[str, Any]) -> bool:
    return all((field_value(obj, r.field) == r.value) == r.equal for r in requirements)
