"""Alert intake: integrations and their tokens, and what an Alertmanager payload does to alerts and incidents.

Alerts open incidents by group, not one each: a firing alert whose group has an open incident attaches to it (on its
timeline, no new page); otherwise its group opens one. Within a group, alerts are still tracked by fingerprint.

A payload is applied in one transaction, whole or not at all: a 4xx or 5xx answer leaves nothing behind, and
Alertmanager's retry of the same payload starts from a clean slate. Re-sending a payload changes nothing but the
alerts' `last_received_at`.

Query cost: a fixed handful per payload (current alerts, services, rules, candidate suppressors, open groups, one
bulk write each for alerts, groups and timeline events; the catalogue's owners when a group opens an incident),
whatever the number of alerts; each group that opens an incident adds what `incident_declare` costs (19 queries,
notification included; 29 with a known service).
"""

import logging
import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from contacts.models import Team
from incidents import alerts as rules
from incidents.alerts import FIRING, RESOLVED, IncomingAlert
from incidents.models import (
    Alert,
    AlertGroup,
    Incident,
    Integration,
    Service,
    Severity,
    SuppressionRule,
    TimelineEvent,
)
from incidents.services import incident_declare, timeline_add_many
from operations.selectors.alerting import alert_catalogue, owner_of
from portal.accounts.models import User
from portal.accounts.services import TOKEN_BYTES, token_hash
from portal.bulk import AnyOf, bulk_set
from portal.core.audit import sealed_together
from portal.errors import ApplicationError, ConflictError, TooLargeError
from portal.locking import lock_rows
from portal.memo import memoized
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
NAMED = 10  # alerts a timeline entry or suppression note names; the rest are counted


# Integrations


@dataclass(frozen=True)
class IssuedIntegration:
    integration: Integration
    token: str  # shown to the caller once; only its hash is stored


def integration_create(
    *,
    name: str,
    created_by: User | None,
    kind: str = Integration.Kind.ALERTMANAGER,
    grouping_labels: Sequence[str] = (),
    now: datetime | None = None,
) -> IssuedIntegration:
    name = name.strip()
    if not name:
        raise ApplicationError("Name the integration after what sends alerts, e.g. 'alertmanager-prod'.", field="name")
    grouping_labels = _grouping_labels(grouping_labels)
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
                grouping_labels=grouping_labels,
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


def integration_set_grouping(*, integration: Integration, grouping_labels: Sequence[str]) -> Integration:
    """Group this integration's alerts by these labels' values from now on; empty: by Alertmanager's groupKey. Open
    incidents keep their alerts; the next alert of a new group opens its own."""
    labels = _grouping_labels(grouping_labels)
    with transaction.atomic():
        integration = Integration.objects.select_for_update().get(pk=integration.pk)
        if integration.grouping_labels == labels:
            raise ConflictError(f"{integration.name} already groups alerts by {labels or 'groupKey'}.")
        integration.grouping_labels = labels
        integration.save(update_fields=["grouping_labels"])
    return integration


def _grouping_labels(names: Sequence[str]) -> list[str]:
    try:
        labels = list(rules.parse_label_names(list(names)))
    except ValueError as exc:
        raise ApplicationError(str(exc), field="grouping_labels") from exc
    if len(set(labels)) != len(labels):
        raise ApplicationError("Name each grouping label once.", field="grouping_labels")
    return labels


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
    OPENED = "opened"  # opened its group's incident
    ATTACHED = "attached"  # added to its group's open incident: on its timeline, no new page
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
    *,
    integration: Integration,
    alerts: Sequence[IncomingAlert],
    group_key: str = "",
    group_labels: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> IntakeSummary:
    """Open, attach, update, resolve or suppress what one Alertmanager payload reports. `group_key` and
    `group_labels` are the payload's `groupKey` and `groupLabels`, used unless the integration names grouping
    labels."""
    now = now or timezone.now()
    seen: dict[str, int] = {}
    for index, alert in enumerate(alerts):
        if alert.fingerprint in seen:
            raise ApplicationError(
                f"Fingerprint {alert.fingerprint} is also alerts[{seen[alert.fingerprint]}]'s.",
                field=f"alerts[{index}].fingerprint",
            )
        seen[alert.fingerprint] = index
    groups = [
        rules.group_key(
            alert,
            grouping_labels=integration.grouping_labels,
            payload_key=group_key,
            payload_labels=group_labels or {},
        )
        for alert in alerts
    ]
    # The incidents opened are sealed into the audit chain together, at the end: one short lock of its head. Their
    # escalation levels, routing and subscribers are read once for the payload (memoized).
    try:
        with sealed_together(), memoized():
            return _intake_notify(integration, _Intake(integration, alerts, groups, now).run())
    except IntegrityError:
        # A concurrent request inserted one of these fingerprints or groups first, and a unique constraint refused
        # our copy. That request has committed (ours waited for it), so a second pass finds its rows, locks them
        # and updates or attaches to them instead of opening a second incident.
        with sealed_together(), memoized():
            return _intake_notify(integration, _Intake(integration, alerts, groups, now).run())


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
    key: int  # its position in the payload: identifies it to the suppression index before it has a primary key
    incoming: IncomingAlert
    group: rules.GroupKey
    row: Alert
    is_new: bool
    previous_status: str = ""
    changes: list[str] = field(default_factory=list)  # what changed since the last payload; empty for new rows
    outcome: Outcome | None = None
    suppressor: int | None = None  # the key of the alert suppressing it

    @property
    def needs_incident(self) -> bool:
        return self.row.status == FIRING and self.row.incident_id is None


class _Intake:
    """One pass over a payload inside its transaction; `run()` is the order of operations."""

    def __init__(
        self,
        integration: Integration,
        alerts: Sequence[IncomingAlert],
        groups: Sequence[rules.GroupKey],
        now: datetime,
    ):
        self.integration, self.alerts, self.groups, self.now = integration, alerts, groups, now
        self.fingerprints = [alert.fingerprint for alert in alerts]
        self.changed_fields: set[str] = set()  # of stored alerts: written for every changed one, in one statement
        self.others: dict[int, Alert] = {}  # firing alerts outside the payload that may suppress, by key
        self.new_groups: list[AlertGroup] = []
        self.grown_groups: list[AlertGroup] = []

    def run(self) -> IntakeSummary:
        current = self._lock_current()
        services = self._services()
        items, stale = [], []
        for index, (incoming, group) in enumerate(zip(self.alerts, self.groups, strict=True)):
            row = current.get(incoming.fingerprint)
            if row is not None and _fires_again_after_its_incident(row, incoming):
                stale.append(row.pk)
                row = None
            if row is None:
                items.append(_Item(index, incoming, group, self._new_row(incoming, services), is_new=True))
            else:
                previous_status = row.status
                changes, fields = _apply(row, incoming, now=self.now)
                self.changed_fields |= fields
                items.append(
                    _Item(index, incoming, group, row, is_new=False, previous_status=previous_status, changes=changes)
                )
        if stale:
            Alert.objects.filter(pk__in=stale).update(is_open=None)  # superseded: frees the fingerprint
        notes: list[tuple[_Item, SuppressionRule]] = []
        if targets := [item for item in items if item.needs_incident]:
            self.changed_fields |= {"incident", "suppressed_by", "suppression_rule"}
            notes = self._suppress(items, targets)
            self._attach_or_open([item for item in targets if item.suppressor is None])
        for item in items:
            if item.outcome is None:
                item.outcome = _outcome(item)
        self._write(items, notes)
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
        """The open alert of each fingerprint, locked: concurrent payloads about the same alert take turns. The
        incidents and services are read once the locks are held (see portal/locking.py)."""
        rows = (
            Alert.objects.filter(AnyOf(F("fingerprint"), self.fingerprints), integration=self.integration, is_open=True)
            .order_by("fingerprint")
            .select_for_update(of=("self",))
            .prefetch_related("incident", "service")
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

    def _suppress(self, items: list[_Item], targets: list[_Item]) -> list[tuple[_Item, SuppressionRule]]:
        """Suppress each firing alert without an incident if a firing alert suppresses it, and return those newly
        suppressed. Suppressors are this payload's firing alerts and every other firing alert whose incident is
        open; the payload's are keyed by position (new ones have no primary key yet), the others after them."""
        others = (
            Alert.objects.filter(is_open=True, status=FIRING)
            .exclude(AnyOf(F("fingerprint"), self.fingerprints), integration=self.integration)
            .filter(Q(incident__isnull=True) | Q(incident__status__in=OPEN_INCIDENT_STATUSES))
            .only("pk", "alertname", "labels", "incident_id", "suppressed_by_id")
        )
        self.others = {len(items) + n: row for n, row in enumerate(others)}
        sources = [
            rules.Source(key=item.key, labels=item.row.labels)
            for item in items
            if item.row.status == FIRING and (item.row.incident is None or item.row.incident.is_open)
        ] + [rules.Source(key=key, labels=row.labels) for key, row in self.others.items()]
        enabled = _enabled_rules()
        index = rules.SuppressionIndex([rule for _, rule in enabled], sources)
        by_key = {model.pk: model for model, _ in enabled}
        newly_suppressed = []
        for item in targets:
            row = item.row
            found = index.suppressor(key=item.key, labels=row.labels)
            if found is None:
                row.suppressed_by, row.suppression_rule = None, None
                continue
            rule, source = found
            item.suppressor = source.key
            source_pk = self._row(items, source.key).pk
            newly = source_pk is None or row.suppressed_by_id != source_pk or row.suppression_rule_id != rule.key
            row.suppressed_by_id, row.suppression_rule_id = source_pk, rule.key
            item.outcome = Outcome.SUPPRESSED if newly or item.changes or item.is_new else Outcome.UNCHANGED
            if newly:
                newly_suppressed.append((item, by_key[rule.key]))
        return newly_suppressed

    def _row(self, items: list[_Item], key: int) -> Alert:
        return items[key].row if key < len(items) else self.others[key]

    def _attach_or_open(self, targets: list[_Item]) -> None:
        """Each alert that needs an incident attaches to its group's open incident; a group without one opens it."""
        by_group: dict[str, list[_Item]] = defaultdict(list)
        for item in targets:
            by_group[item.group.digest].append(item)
        open_groups = {
            group.key_hash: group
            for group in lock_rows(
                AlertGroup.objects.select_related("incident")
                .filter(integration=self.integration, is_open=True, key_hash__in=list(by_group))
                .order_by("key_hash")
            )
        }
        opening = [
            digest for digest in by_group if digest not in open_groups or not open_groups[digest].incident.is_open
        ]
        if len(opening) > settings.ALERT_WEBHOOK_MAX_NEW_GROUPS:
            # Each costs what declaring an incident does: bounded, so that no payload runs into a worker timeout.
            raise TooLargeError(
                f"The payload would open incidents for {len(opening)} alert groups, more than "
                f"{settings.ALERT_WEBHOOK_MAX_NEW_GROUPS} (ALERT_WEBHOOK_MAX_NEW_GROUPS): group by fewer labels, or "
                "send the groups in separate payloads.",
                field="alerts",
            )
        superseded = [group.pk for group in open_groups.values() if not group.incident.is_open]
        if superseded:
            # People resolved these groups' incidents: a new firing starts a new group (and incident).
            AlertGroup.objects.filter(pk__in=superseded).update(is_open=None)
        severities: dict[str, Severity] = {}
        # Each name's owner in the alert catalogue (kept in the cache): the owner of a group's names hears of its
        # incident.
        owners = alert_catalogue().owners
        for digest, members in by_group.items():
            group = open_groups.get(digest)
            if group is not None and group.incident.is_open:
                for item in members:
                    item.row.incident, item.outcome = group.incident, Outcome.ATTACHED
                group.alert_count += len(members)
                group.last_alert_at = self.now
                self.grown_groups.append(group)
                continue
            incident = self._open_incident(
                members, severities, owner_of((item.row.alertname for item in members), owners)
            )
            for item in members:
                item.row.incident, item.outcome = incident, Outcome.OPENED
            key = members[0].group
            self.new_groups.append(
                AlertGroup(
                    integration=self.integration,
                    key=key.key,
                    key_hash=digest,
                    labels=dict(key.labels),
                    incident=incident,
                    alert_count=len(members),
                    created_at=self.now,
                    last_alert_at=self.now,
                )
            )

    def _open_incident(self, members: list[_Item], severities: dict[str, Severity], owner: Team | None) -> Incident:
        """The group's incident, named after its most severe alert, affecting every service its alerts name."""
        if not severities:
            severities.update((severity.code, severity) for severity in Severity.objects.all())
        lead = min(members, key=lambda item: severities[rules.severity_code(item.row.labels)].rank).row
        title = lead.alertname
        if lead.service is not None:
            title += f" on {lead.service.name}"
        elif lead.service_label:
            title += f" on {lead.service_label} (unknown service)"
        impact = "\n\n".join(
            text for key in ("summary", "description") if (text := lead.annotations.get(key, "").strip())
        )
        services = {item.row.service.pk: item.row.service for item in members if item.row.service is not None}
        return incident_declare(
            title=one_line(title)[:200],  # labels may hold line breaks; a title is one line
            severity=severities[rules.severity_code(lead.labels)],
            reporter=None,
            services=list(services.values()),
            impact_summary=impact,
            # Alertmanager's clock may run a little ahead of ours.
            detected_at=min(min(item.row.starts_at for item in members), self.now),
            owner=owner,
            now=self.now,
        )

    def _write(self, items: list[_Item], notes: list[tuple[_Item, SuppressionRule]]) -> None:
        """One write per kind of change, whatever the number of alerts."""
        new = sorted((item for item in items if item.is_new), key=lambda item: item.row.fingerprint)
        # In fingerprint order, so two requests inserting overlapping sets wait on each other instead of deadlocking.
        Alert.objects.bulk_create([item.row for item in new])
        # Alerts suppressed by an alert that was new in this payload learn its primary key only now.
        late = []
        for item in items:
            if item.suppressor is not None and item.row.suppressed_by_id is None:
                item.row.suppressed_by_id = self._row(items, item.suppressor).pk
                if item.is_new:
                    late.append(item.row)
        if late:
            bulk_set(late, ["suppressed_by"])
        # After the alerts: a concurrent copy of the payload then fails on the alerts' constraint first.
        AlertGroup.objects.bulk_create(self.new_groups)
        bulk_set(self.grown_groups, ["alert_count", "last_alert_at"])
        changed = [item.row for item in items if not item.is_new and item.outcome != Outcome.UNCHANGED]
        bulk_set(changed, sorted(self.changed_fields))
        if unchanged := [item.row.pk for item in items if item.outcome == Outcome.UNCHANGED]:
            Alert.objects.filter(AnyOf(F("pk"), unchanged)).update(last_received_at=self.now)
        events = self._events(items) + self._suppression_notes(items, notes)
        if events:
            timeline_add_many(events=events)

    def _events(self, items: list[_Item]) -> list[TimelineEvent]:
        """One timeline entry per incident for what this payload did to its alerts: a storm's thousand alerts in a
        group make one readable line on their incident's timeline, not a thousand."""
        by_incident: dict[int, list[tuple[Alert, str, list[str]]]] = defaultdict(list)
        for item in items:
            # A suppressed alert has no incident to tell.
            if item.row.incident_id is not None and (told := _told(item)) is not None:
                by_incident[item.row.incident_id].append(told)
        events = []
        for incident_id, alerts in by_incident.items():
            if len(alerts) == 1:
                row, what, _ = alerts[0]
                message = f"Alert {row.alertname}: {what}"
            else:
                message = f"{len(alerts)} alerts: " + "; ".join(
                    _named([f"{row.alertname} {what}" for row, what, _ in alerts])
                )
            events.append(
                TimelineEvent(
                    incident_id=incident_id,
                    kind=TimelineEvent.Kind.ALERT,
                    at=self.now,
                    message=message,
                    data={
                        "alerts": [
                            {"alert": row.pk, "fingerprint": row.fingerprint, "status": row.status, "changes": changes}
                            for row, _, changes in alerts
                        ]
                    },
                )
            )
        return events

    def _suppression_notes(self, items: list[_Item], notes: list[tuple[_Item, SuppressionRule]]) -> list[TimelineEvent]:
        """One note per suppressing incident and rule, naming the alerts it kept from opening incidents."""
        by_incident: dict[tuple[int, SuppressionRule], list[Alert]] = defaultdict(list)
        for item, rule in notes:
            if (incident_id := self._incident_behind(items, item)) is not None:
                by_incident[(incident_id, rule)].append(item.row)
        events = []
        for (incident_id, rule), suppressed in by_incident.items():
            names = _named([_describe(row) for row in suppressed])
            events.append(
                TimelineEvent(
                    incident_id=incident_id,
                    kind=TimelineEvent.Kind.NOTE,
                    at=self.now,
                    message=f"Suppressed by rule “{rule.name}”, no incident opened: {', '.join(names)}",
                    data={"suppression_rule": rule.pk, "alerts": [row.pk for row in suppressed]},
                )
            )
        return events

    def _incident_behind(self, items: list[_Item], item: _Item) -> int | None:
        """The incident of the alert suppressing `item`, following suppressors that are suppressed themselves."""
        key_of = {row.pk: key for key, row in self.others.items()} | {
            other.row.pk: other.key for other in items if other.row.pk is not None
        }
        seen = {item.key}
        key = item.suppressor
        while key is not None and key not in seen:
            seen.add(key)
            row = self._row(items, key)
            if row.incident_id is not None:
                return row.incident_id
            if key < len(items):
                key = items[key].suppressor
            else:
                key = None if row.suppressed_by_id is None else key_of.get(row.suppressed_by_id)
        return None


def _told(item: _Item) -> tuple[Alert, str, list[str]] | None:
    """What its incident's timeline says of an alert in this payload (the alert, the words, what changed), or None
    when nothing changed."""
    row = item.row
    if item.outcome in {Outcome.OPENED, Outcome.ATTACHED}:
        what = f"firing since {_at(row.starts_at)}"
        if item.outcome == Outcome.ATTACHED:
            what = f"joined the incident ({rules.severity_code(row.labels)}), {what}"
        return row, what, [str(item.outcome)]
    if item.changes:
        return row, "; ".join(item.changes), item.changes
    return None


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


def _apply(row: Alert, incoming: IncomingAlert, *, now: datetime) -> tuple[list[str], set[str]]:
    """Copy what the payload says onto the stored alert; describe what changed (nothing: an exact re-send) and name
    the fields that did."""
    changes, fields = [], {"status", "starts_at", "ends_at", "last_received_at"}
    if incoming.status == RESOLVED and (row.status != RESOLVED or incoming.ends_at != row.ends_at):
        changes.append(f"resolved at {_at(incoming.ends_at or now)}")
    elif incoming.status == FIRING and (row.status != FIRING or incoming.starts_at != row.starts_at):
        changes.append(f"firing again since {_at(incoming.starts_at)}")
    for key in sorted(set(incoming.annotations) | set(row.annotations)):
        if incoming.annotations.get(key) != row.annotations.get(key):
            changes.append(f"{key}: {incoming.annotations.get(key, '(removed)')[:200]}")
            fields.add("annotations")
    if incoming.labels != row.labels:
        changes.append("labels changed")
        fields.add("labels")
    if incoming.generator_url != row.generator_url:
        changes.append("source link changed")
        fields.add("generator_url")
    row.status, row.labels, row.annotations = incoming.status, incoming.labels, incoming.annotations
    row.starts_at, row.ends_at, row.generator_url = incoming.starts_at, incoming.ends_at, incoming.generator_url
    row.last_received_at = now
    return changes, fields


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


def _named(descriptions: list[str]) -> list[str]:
    """The first NAMED descriptions, then how many more there are."""
    if len(descriptions) <= NAMED:
        return descriptions
    return [*descriptions[:NAMED], f"and {len(descriptions) - NAMED} more"]


def _describe(row: Alert) -> str:
    labels = ", ".join(f"{name}={value}" for name, value in sorted(row.labels.items()) if name != "alertname")
    return f"{row.alertname} ({labels})"[:160]


def _at(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"
