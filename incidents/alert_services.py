"""Alert intake: integrations and their tokens, and what an Alertmanager payload does to alerts and incidents.

A payload is applied in one transaction, whole or not at all: a 4xx or 5xx answer leaves nothing behind, and
Alertmanager's retry of the same payload starts from a clean slate. Re-sending a payload changes nothing but the
alerts' `last_received_at`.

Query cost: a fixed handful per payload (current alerts, services, rules, candidate suppressors, one bulk write each
for alerts and timeline events), whatever the number of alerts that are updated, resolved, unchanged or suppressed;
each alert that opens an incident adds what `incident_declare` costs (about twenty queries, notification included).
"""

import logging
import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from incidents import alerts as rules
from incidents.alerts import FIRING, RESOLVED, IncomingAlert
from incidents.models import Alert, Incident, Integration, Service, Severity, SuppressionRule, TimelineEvent
from incidents.services import incident_declare, timeline_add_many
from portal.accounts.models import User
from portal.accounts.services import TOKEN_BYTES, token_hash
from portal.errors import ApplicationError, ConflictError
from portal.locking import lock_rows
from portal.notifications.models import EventKind
from portal.notifications.models import Severity as NotificationSeverity
from portal.notifications.services import notify
from portal.text import one_line

logger = logging.getLogger(__name__)

OPEN_INCIDENT_STATUSES = [
    status
    for status in Incident.Status.values
    if status not in {Incident.Status.RESOLVED, Incident.Status.REVIEW, Incident.Status.CLOSED}
]
SUPPRESSED_LISTED = 10  # alerts named in a suppression note; the rest are counted


# Integrations


@dataclass(frozen=True)
class IssuedIntegration:
    integration: Integration
    token: str  # shown to the caller once; only its hash is stored


def integration_create(
    *, name: str, created_by: User | None, kind: str = Integration.Kind.ALERTMANAGER, now: datetime | None = None
) -> IssuedIntegration:
    name = name.strip()
    if not name:
        raise ApplicationError("Name the integration after what sends alerts, e.g. 'alertmanager-prod'.", field="name")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    try:
        with transaction.atomic():
            integration = Integration.objects.create(
                name=name,
                kind=kind,
                token_prefix=token[:8],
                token_hash=token_hash(token),
                token_issued_at=now or timezone.now(),
                created_by=created_by,
            )
    except IntegrityError as exc:
        raise ApplicationError(f"An integration named {name!r} exists already.", field="name") from exc
    return IssuedIntegration(integration=integration, token=token)


def integration_rotate_token(*, integration: Integration, now: datetime | None = None) -> IssuedIntegration:
    """A new token; the old one stops working at once."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        integration = Integration.objects.select_for_update().get(pk=integration.pk)
        integration.token_prefix, integration.token_hash = token[:8], token_hash(token)
        integration.token_issued_at = now or timezone.now()
        integration.save(update_fields=["token_prefix", "token_hash", "token_issued_at"])
    return IssuedIntegration(integration=integration, token=token)


def integration_set_enabled(*, integration: Integration, enabled: bool) -> Integration:
    with transaction.atomic():
        integration = Integration.objects.select_for_update().get(pk=integration.pk)
        if integration.enabled == enabled:
            raise ConflictError(f"{integration.name} is already {'enabled' if enabled else 'disabled'}.")
        integration.enabled = enabled
        integration.save(update_fields=["enabled"])
    return integration


def integration_authenticate(*, token: str, now: datetime | None = None) -> Integration | None:
    """The enabled integration holding `token`, or None."""
    integration = Integration.objects.filter(token_hash=token_hash(token), enabled=True).first()
    if integration is None:
        return None
    now = now or timezone.now()
    # At most once a minute, and with `update()` to keep this bookkeeping out of the audit log (as API tokens do).
    if integration.last_used_at is None or (now - integration.last_used_at).total_seconds() > 60:
        Integration.objects.filter(pk=integration.pk).update(last_used_at=now)
    return integration


# Intake


class Outcome(StrEnum):
    OPENED = "opened"  # a new incident
    UPDATED = "updated"  # the alert changed; on its incident's timeline
    RESOLVED = "resolved"  # the alert resolved; on its incident's timeline, which stays open
    SUPPRESSED = "suppressed"  # stored, opens no incident while its suppressor fires
    UNCHANGED = "unchanged"  # as last received


@dataclass(frozen=True)
class AlertResult:
    fingerprint: str
    alert: int
    outcome: Outcome
    incident: int | None
    suppressed_by: int | None


@dataclass(frozen=True)
class IntakeSummary:
    results: list[AlertResult]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(Outcome, 0)
        for result in self.results:
            counts[result.outcome] += 1
        return {str(outcome): count for outcome, count in counts.items()}

    @property
    def incidents(self) -> dict[str, list[int]]:
        """Incident ids by outcome."""
        by_outcome: dict[str, set[int]] = {str(outcome): set() for outcome in Outcome}
        for result in self.results:
            if result.incident is not None:
                by_outcome[result.outcome].add(result.incident)
        return {outcome: sorted(ids) for outcome, ids in by_outcome.items()}


def alert_ingest(
    *, integration: Integration, alerts: Sequence[IncomingAlert], now: datetime | None = None
) -> IntakeSummary:
    """Open, update, resolve or suppress by fingerprint what one Alertmanager payload reports."""
    now = now or timezone.now()
    seen: dict[str, int] = {}
    for index, alert in enumerate(alerts):
        if alert.fingerprint in seen:
            raise ApplicationError(
                f"Fingerprint {alert.fingerprint} is also alerts[{seen[alert.fingerprint]}]'s.",
                field=f"alerts[{index}].fingerprint",
            )
        seen[alert.fingerprint] = index
    try:
        with transaction.atomic():
            return _intake_notify(integration, _Intake(integration, alerts, now).run())
    except IntegrityError:
        # A concurrent request inserted one of these fingerprints first, and the unique constraint on open alerts
        # refused our copy. That request has committed (ours waited for it), so a second pass finds its rows,
        # locks them and updates them instead of opening a second incident.
        with transaction.atomic():
            return _intake_notify(integration, _Intake(integration, alerts, now).run())


def _intake_notify(integration: Integration, summary: IntakeSummary) -> IntakeSummary:
    """One summary per payload for the seeds' #alerts channel, unless nothing changed (Alertmanager's repeats)."""
    counts = {outcome: count for outcome, count in summary.counts.items() if count and outcome != Outcome.UNCHANGED}
    if counts:
        notify(
            event=EventKind.ALERT_RECEIVED,
            severity=NotificationSeverity.INFO,
            title=f"{integration.name}: " + ", ".join(f"{count} {outcome}" for outcome, count in counts.items()),
            summary="\n".join(
                f"{result.fingerprint}: {result.outcome}" + (f" (INC-{result.incident})" if result.incident else "")
                for result in summary.results[:20]
                if result.outcome != Outcome.UNCHANGED
            ),
            source=f"integration:{integration.pk}",
        )
    return summary


@dataclass
class _Item:
    incoming: IncomingAlert
    row: Alert
    is_new: bool
    previous_status: str = ""
    changes: list[str] = field(default_factory=list)  # what changed since the last payload; empty for new rows
    outcome: Outcome | None = None

    @property
    def needs_incident(self) -> bool:
        return self.row.status == FIRING and self.row.incident_id is None


class _Intake:
    """One pass over a payload inside its transaction; `run()` is the order of operations."""

    def __init__(self, integration: Integration, alerts: Sequence[IncomingAlert], now: datetime):
        self.integration, self.alerts, self.now = integration, alerts, now
        self.events: list[TimelineEvent] = []

    def run(self) -> IntakeSummary:
        current = self._lock_current()
        services = self._services()
        items, stale = [], []
        for incoming in self.alerts:
            row = current.get(incoming.fingerprint)
            if row is not None and _fires_again_after_its_incident(row, incoming):
                stale.append(row.pk)
                row = None
            if row is None:
                items.append(_Item(incoming, self._new_row(incoming, services), is_new=True))
            else:
                previous_status = row.status
                changes = _apply(row, incoming, now=self.now)
                items.append(_Item(incoming, row, is_new=False, previous_status=previous_status, changes=changes))
        if stale:
            Alert.objects.filter(pk__in=stale).update(is_open=None)  # superseded: frees the fingerprint
        new = [item.row for item in items if item.is_new]
        # In fingerprint order, so two requests inserting overlapping sets wait on each other instead of deadlocking.
        Alert.objects.bulk_create(sorted(new, key=lambda row: row.fingerprint))

        if targets := [item for item in items if item.needs_incident]:
            self._suppress_or_open(items, targets)
        for item in items:
            if item.outcome is None:
                item.outcome = _outcome(item)
                if item.changes and item.row.incident_id is not None:
                    self._on_timeline(item.row, "; ".join(item.changes), changes=item.changes)
        self._write(items)
        return IntakeSummary(
            results=[
                AlertResult(
                    fingerprint=item.row.fingerprint,
                    alert=item.row.pk,
                    outcome=item.outcome or Outcome.UNCHANGED,
                    incident=item.row.incident_id,
                    suppressed_by=item.row.suppressed_by_id,
                )
                for item in items
            ]
        )

    def _lock_current(self) -> dict[str, Alert]:
        """The open alert of each fingerprint, locked: concurrent payloads about the same alert take turns."""
        rows = lock_rows(
            Alert.objects.select_related("incident", "service")
            .filter(integration=self.integration, is_open=True, fingerprint__in=[a.fingerprint for a in self.alerts])
            .order_by("fingerprint")
        )
        return {row.fingerprint: row for row in rows}

    def _services(self) -> dict[str, Service]:
        """Services named by the alerts' service (or job) labels, by lower-case slug or name, in one query."""
        wanted = {rules.service_label(alert.labels).lower() for alert in self.alerts} - {""}
        if not wanted:
            return {}
        found = list(
            Service.objects.annotate(lower_name=Lower("name"), lower_slug=Lower("slug")).filter(
                Q(lower_name__in=wanted) | Q(lower_slug__in=wanted)
            )
        )
        by_name = {service.lower_name: service for service in found}
        return by_name | {service.lower_slug: service for service in found}  # a slug wins over another's name

    def _new_row(self, incoming: IncomingAlert, services: Mapping[str, Service]) -> Alert:
        label = rules.service_label(incoming.labels)
        return Alert(
            integration=self.integration,
            fingerprint=incoming.fingerprint,
            status=incoming.status,
            alertname=incoming.alertname[:200],
            labels=incoming.labels,
            annotations=incoming.annotations,
            starts_at=incoming.starts_at,
            ends_at=incoming.ends_at,
            generator_url=incoming.generator_url,
            service=services.get(label.lower()),
            service_label=label[:200],
            first_received_at=self.now,
            last_received_at=self.now,
        )

    def _suppress_or_open(self, items: list[_Item], targets: list[_Item]) -> None:
        """Suppress each firing alert without an incident if a firing alert suppresses it; open incidents for the
        rest. Suppressors are this payload's firing alerts and every other firing alert whose incident is open."""
        payload_rows = {item.row.pk: item.row for item in items}
        others = {
            row.pk: row
            for row in Alert.objects.filter(is_open=True, status=FIRING)
            .exclude(integration=self.integration, fingerprint__in=[row.fingerprint for row in payload_rows.values()])
            .filter(Q(incident__isnull=True) | Q(incident__status__in=OPEN_INCIDENT_STATUSES))
            .only("pk", "alertname", "labels", "incident_id", "suppressed_by_id")
        }
        sources = [
            rules.Source(key=row.pk, labels=row.labels)
            for row in payload_rows.values()
            if row.status == FIRING and (row.incident is None or row.incident.is_open)
        ] + [rules.Source(key=row.pk, labels=row.labels) for row in others.values()]
        enabled = _enabled_rules()
        index = rules.SuppressionIndex([rule for _, rule in enabled], sources)
        by_key = {model.pk: model for model, _ in enabled}
        severities: dict[str, Severity] = {}
        newly_suppressed: list[tuple[Alert, SuppressionRule]] = []
        for item in targets:
            row = item.row
            found = index.suppressor(key=row.pk, labels=row.labels)
            if found is None:
                row.suppressed_by, row.suppression_rule = None, None
                self._open_incident(row, severities)
                item.outcome = Outcome.OPENED
                continue
            rule, source = found
            newly = row.suppressed_by_id != source.key or row.suppression_rule_id != rule.key
            row.suppressed_by_id, row.suppression_rule_id = source.key, rule.key
            item.outcome = Outcome.SUPPRESSED if newly or item.changes or item.is_new else Outcome.UNCHANGED
            if newly:
                newly_suppressed.append((row, by_key[rule.key]))
        # After the loop: a suppressor in this payload may only now have its incident.
        notes: dict[tuple[int, SuppressionRule], list[Alert]] = defaultdict(list)
        for row, suppression_rule in newly_suppressed:
            if (incident_id := _incident_behind(row, payload_rows | others)) is not None:
                notes[(incident_id, suppression_rule)].append(row)
        for (incident_id, suppression_rule), suppressed in notes.items():
            self._note_suppressed(incident_id, suppression_rule, suppressed)

    def _open_incident(self, row: Alert, severities: dict[str, Severity]) -> None:
        if not severities:
            severities.update((severity.code, severity) for severity in Severity.objects.all())
        title = row.alertname
        if row.service is not None:
            title += f" on {row.service.name}"
        elif row.service_label:
            title += f" on {row.service_label} (unknown service)"
        impact = "\n\n".join(
            text for key in ("summary", "description") if (text := row.annotations.get(key, "").strip())
        )
        row.incident = incident_declare(
            title=one_line(title)[:200],  # labels may hold line breaks; a title is one line
            severity=severities[rules.severity_code(row.labels)],
            reporter=None,
            services=[row.service] if row.service is not None else [],
            impact_summary=impact,
            detected_at=min(row.starts_at, self.now),  # Alertmanager's clock may run a little ahead of ours
            now=self.now,
        )
        self._on_timeline(row, f"firing since {_at(row.starts_at)}", changes=["opened"])

    def _note_suppressed(self, incident_id: int, rule: SuppressionRule, suppressed: list[Alert]) -> None:
        names = [_describe(row) for row in suppressed[:SUPPRESSED_LISTED]]
        if len(suppressed) > SUPPRESSED_LISTED:
            names.append(f"and {len(suppressed) - SUPPRESSED_LISTED} more")
        self.events.append(
            TimelineEvent(
                incident_id=incident_id,
                kind=TimelineEvent.Kind.NOTE,
                at=self.now,
                message=f"Suppressed by rule “{rule.name}”, no incident opened: {', '.join(names)}",
                data={"suppression_rule": rule.pk, "alerts": [row.pk for row in suppressed]},
            )
        )

    def _on_timeline(self, row: Alert, what: str, *, changes: list[str]) -> None:
        if row.incident_id is None:  # a suppressed alert has no incident to tell
            return
        self.events.append(
            TimelineEvent(
                incident_id=row.incident_id,
                kind=TimelineEvent.Kind.ALERT,
                at=self.now,
                message=f"Alert {row.alertname}: {what}",
                data={
                    "alert": row.pk,
                    "fingerprint": row.fingerprint,
                    "status": row.status,
                    "changes": changes,
                    "generator_url": row.generator_url,
                },
            )  # fmt: skip
        )

    def _write(self, items: list[_Item]) -> None:
        """One write per kind of change, whatever the number of alerts."""
        # New firing alerts got their incident or suppressor after their insert.
        new_firing = [item.row for item in items if item.is_new and item.row.status == FIRING]
        Alert.objects.bulk_update(new_firing, ["incident", "suppressed_by", "suppression_rule"])
        changed = [item.row for item in items if not item.is_new and item.outcome != Outcome.UNCHANGED]
        Alert.objects.bulk_update(changed, _MUTABLE_FIELDS)
        if unchanged := [item.row.pk for item in items if item.outcome == Outcome.UNCHANGED]:
            Alert.objects.filter(pk__in=unchanged).update(last_received_at=self.now)
        if self.events:
            timeline_add_many(events=self.events)


_MUTABLE_FIELDS = [
    "status",
    "labels",
    "annotations",
    "starts_at",
    "ends_at",
    "generator_url",
    "last_received_at",
    "incident",
    "suppressed_by",
    "suppression_rule",
]


def _fires_again_after_its_incident(row: Alert, incoming: IncomingAlert) -> bool:
    """A new firing (new startsAt) of an alert whose incident people have resolved: a new incident, on a new row.

    The same firing re-sent after people resolved its incident re-opens nothing.
    """
    return (
        incoming.status == FIRING
        and row.incident is not None
        and not row.incident.is_open
        and incoming.starts_at != row.starts_at
    )


def _apply(row: Alert, incoming: IncomingAlert, *, now: datetime) -> list[str]:
    """Copy what the payload says onto the stored alert and describe what changed (nothing: an exact re-send)."""
    changes = []
    if incoming.status == RESOLVED and (row.status != RESOLVED or incoming.ends_at != row.ends_at):
        changes.append(f"resolved at {_at(incoming.ends_at or now)}")
    elif incoming.status == FIRING and (row.status != FIRING or incoming.starts_at != row.starts_at):
        changes.append(f"firing again since {_at(incoming.starts_at)}")
    for key in sorted(set(incoming.annotations) | set(row.annotations)):
        if incoming.annotations.get(key) != row.annotations.get(key):
            changes.append(f"{key}: {incoming.annotations.get(key, '(removed)')[:200]}")
    if incoming.labels != row.labels:
        changes.append("labels changed")
    if incoming.generator_url != row.generator_url:
        changes.append("source link changed")
    row.status, row.labels, row.annotations = incoming.status, incoming.labels, incoming.annotations
    row.starts_at, row.ends_at, row.generator_url = incoming.starts_at, incoming.ends_at, incoming.generator_url
    row.last_received_at = now
    return changes


def _outcome(item: _Item) -> Outcome:
    """The outcome of an alert that neither opened an incident nor was checked for suppression."""
    if item.is_new:
        return Outcome.RESOLVED  # only resolved alerts are new without needing an incident
    if not item.changes:
        return Outcome.UNCHANGED
    if item.previous_status == FIRING and item.row.status == RESOLVED:
        return Outcome.RESOLVED
    return Outcome.UPDATED


def _enabled_rules() -> list[tuple[SuppressionRule, rules.Rule]]:
    enabled = []
    for model in SuppressionRule.objects.filter(enabled=True):
        try:
            rule = rules.Rule(
                key=model.pk,
                source=rules.parse_matchers(model.source_matchers),
                target=rules.parse_matchers(model.target_matchers),
                equal=rules.parse_label_names(model.equal),
            )
        except ValueError as exc:
            # Admin and API validate rules; one written around them must not stop alerts from opening incidents.
            logger.error("Suppression rule %r is invalid and ignored: %s", model.name, exc)
            continue
        enabled.append((model, rule))
    return enabled


def _incident_behind(row: Alert, rows: Mapping[int, Alert]) -> int | None:
    """The incident of the alert suppressing `row`, following suppressors that are suppressed themselves."""
    seen = {row.pk}
    key = row.suppressed_by_id
    while key is not None and key not in seen and key in rows:
        seen.add(key)
        if rows[key].incident_id is not None:
            return rows[key].incident_id
        key = rows[key].suppressed_by_id
    return None


def _describe(row: Alert) -> str:
    labels = ", ".join(f"{name}={value}" for name, value in sorted(row.labels.items()) if name != "alertname")
    return f"{row.alertname} ({labels})"[:160]


def _at(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"
