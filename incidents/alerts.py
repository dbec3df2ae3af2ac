"""Pure rules of alert intake: label -> severity, matchers and suppression (no database, no Django models).

Suppression follows Alertmanager's `inhibit_rules`: while a firing *source* alert matches every source matcher, an
alert matching every target matcher and carrying the same value of each `equal` label is suppressed. As in
Alertmanager, a label that is missing counts as the empty string (so `equal` labels missing on both sides compare
equal: give the source side a `label=~".+"` matcher to rule that out), regexes are fully anchored, and an alert
that matches both sides of a rule is not suppressed by a source that also matches both sides. Regexes use Python's
`re` syntax, which agrees with Go's RE2 for the usual `a|b`, `.*` and character classes.
"""

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

# Alertmanager's `severity` label -> incident severity code; any other value, or none, is P4.
SEVERITY_BY_LABEL: Final[Mapping[str, str]] = {
    "critical": "P1",
    "error": "P2",
    "high": "P2",
    "warning": "P3",
}
DEFAULT_SEVERITY: Final = "P4"

FIRING, RESOLVED = "firing", "resolved"
# Where an alert names the service it is about: the first of these labels that is set.
SERVICE_LABELS: Final = ("service", "job")


# What the portal writes into the rules it exports (operations/alert_rules.py): the label each code maps back from.
LABEL_BY_SEVERITY: Final[Mapping[str, str]] = {"P1": "critical", "P2": "high", "P3": "warning", "P4": "info"}


def severity_code(labels: Mapping[str, str]) -> str:
    return SEVERITY_BY_LABEL.get(labels.get("severity", "").strip().lower(), DEFAULT_SEVERITY)


def severity_label(code: str) -> str:
    """The `severity` label that `severity_code` maps back to `code`."""
    return LABEL_BY_SEVERITY.get(code, "info")


def service_label(labels: Mapping[str, str]) -> str:
    return next((labels[name].strip() for name in SERVICE_LABELS if labels.get(name, "").strip()), "")


@dataclass(frozen=True)
class IncomingAlert:
    """One alert of an Alertmanager webhook payload, validated."""

    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str = ""

    @property
    def alertname(self) -> str:
        return self.labels["alertname"]


@dataclass(frozen=True)
class GroupKey:
    """Which group an alert belongs to: `key` identifies it, `labels` are the label values that define it."""

    key: str
    labels: Mapping[str, str]

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.key.encode()).hexdigest()


def group_key(
    alert: IncomingAlert, *, grouping_labels: Sequence[str], payload_key: str, payload_labels: Mapping[str, str]
) -> GroupKey:
    """The integration's grouping labels if it names any (a missing label counts as empty, as in Alertmanager);
    else the payload's groupKey, which Alertmanager derives from the route's `group_by`; else (a sender that gives
    no groupKey) the alert's own fingerprint, one group per alert."""
    if grouping_labels:
        labels = {name: alert.labels.get(name, "") for name in grouping_labels}
        return GroupKey(key="labels:" + json.dumps(labels, ensure_ascii=False), labels=labels)
    if payload_key:
        return GroupKey(key="groupKey:" + payload_key, labels=dict(payload_labels))
    return GroupKey(key="fingerprint:" + alert.fingerprint, labels={})


# Alertmanager's matcher syntax: name, operator, value (optionally double-quoted, with JSON-style escapes).
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.pattern is not None:
            return (self.pattern.fullmatch(actual) is not None) == (self.op == "=~")
        return (actual == self.value) == (self.op == "=")


def parse_matcher(text: str) -> Matcher:
    """`alertname="ServiceDown"`, `severity!=info`, `pod=~".+"`, `node!~"test-.*"`; ValueError says what is wrong."""
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(f"{text!r} is not a matcher: write label=value, label!=value, label=~regex or label!~regex.")
    name, op, value = found.groups()
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{text!r}: the quoted value is not a valid string ({exc.msg}).") from exc
    pattern = None
    if op in {"=~", "!~"}:
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise ValueError(f"{text!r}: the regex does not compile ({exc}).") from exc
    return Matcher(name=name, op=op, value=value, pattern=pattern)


def parse_matchers(texts: object) -> tuple[Matcher, ...]:
    """A non-empty list of matchers (an empty one would match every alert)."""
    if not isinstance(texts, list | tuple) or not texts:
        raise ValueError('Give at least one matcher, e.g. alertname="ServiceDown".')
    if not all(isinstance(text, str) for text in texts):
        raise ValueError('Each matcher is a string, e.g. alertname="ServiceDown".')
    return tuple(parse_matcher(text) for text in texts)


def parse_label_names(names: object) -> tuple[str, ...]:
    if not isinstance(names, list | tuple) or not all(isinstance(name, str) for name in names):
        raise ValueError('Give a list of label names, e.g. ["service"].')
    bad = [name for name in names if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not a label name.")
    return tuple(names)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)


@dataclass(frozen=True)
class Rule:
    key: int
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    """A firing alert that may suppress others: `key` identifies it to the caller."""

    key: int
    labels: Mapping[str, str]


class SuppressionIndex:
    """Finds the source that suppresses an alert, in time independent of the number of sources.

    Built once per payload: each rule's matching sources are indexed by their values of the rule's `equal` labels,
    so 500 targets against 500 sources cost 500 look-ups rather than 250,000 comparisons.
    """

    def __init__(self, rules: Sequence[Rule], sources: Iterable[Source]):
        self.rules = rules
        self._by_rule: dict[int, dict[tuple[str, ...], list[Source]]] = {rule.key: {} for rule in rules}
        for source in sources:
            for rule in rules:
                if matches_all(rule.source, source.labels):
                    bucket = self._by_rule[rule.key].setdefault(_equal_values(rule, source.labels), [])
                    bucket.append(source)

    def suppressor(self, *, key: int, labels: Mapping[str, str]) -> tuple[Rule, Source] | None:
        """The first rule (in the given order) and source that suppress the alert `key`, or None."""
        for rule in self.rules:
            if not matches_all(rule.target, labels):
                continue
            # Alertmanager: an alert matching both sides is not suppressed by sources that also match both sides,
            # so two such alerts cannot silence each other.
            two_sided = matches_all(rule.source, labels)
            for source in self._by_rule[rule.key].get(_equal_values(rule, labels), []):
                if source.key != key and not (two_sided and matches_all(rule.target, source.labels)):
                    return rule, source
        return None


def _equal_values(rule: Rule, labels: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(labels.get(name, "") for name in rule.equal)
