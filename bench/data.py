"""The benchmark's named data sizes, loaded in bulk (bulk_create in large batches, audit seals computed in Python).

Each incident comes with what a real one leaves behind: two timeline events, an alert, an audit entry (sealed into
the hash chain, as every entry is), and every tenth with a notification delivery. Resolved P1/P2 incidents have a
post-incident review, published for most. Most incidents are closed; about 1% are open. Every hundredth is public,
so the status page shows the open ones and those resolved in its 90 days, and has a finished cluster action, so the
actions page shows a full page whatever the runs before measured.
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from incidents.alert_services import integration_create
from incidents.models import Alert, Incident, Integration, PostIncidentReview, Service, Severity, TimelineEvent
from portal.accounts.models import User
from portal.cluster.models import ActionKind, ActionRun, Target
from portal.core.audit_chain import ENTRY_FIELDS, link_hash
from portal.core.models import AuditChainHead, AuditSeal
from portal.core.selectors import audit_chain_end
from portal.core.services import audit_chain_record_verification
from portal.notifications.models import Channel, Delivery, EventKind, Notification

SIZES = {"small": 100, "10k": 10_000, "100k": 100_000}
BATCH = 5000
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
SERVICES = ["Checkout", "Payments", "Search", "Catalog", "Accounts", "Orders", "Inventory", "Shipping"]
OPEN = [Incident.Status.TRIAGE, Incident.Status.INVESTIGATING, Incident.Status.MITIGATING, Incident.Status.MONITORING]


@dataclass(frozen=True)
class Loaded:
    incidents: int
    sample_incident_id: int


def bench_target(*, url: str) -> Target:
    """The Redis target of the bench's cluster actions: those the data holds, and the one measured on a worker."""
    return Target.objects.update_or_create(
        slug="bench-redis",
        defaults={"name": "Bench Redis", "kind": Target.Kind.REDIS, "environment": "staging", "url": url},
    )[0]


def _chunks(items: list, size: int = BATCH):  # type: ignore[no-untyped-def,type-arg]
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def load(size: str, *, user: User, now: datetime, log=print) -> Loaded:  # type: ignore[no-untyped-def] # noqa: T202
    """Add `SIZES[size]` incidents (and what comes with them) to the database; the caller checks it is empty."""
    count = SIZES[size]
    rng = random.Random(13)  # noqa: S311 - reproducible data, not security
    services = [
        Service.objects.get_or_create(slug=name.lower(), defaults={"name": name, "tier": 1 + i % 3})[0]
        for i, name in enumerate(SERVICES)
    ]
    severities = list(Severity.objects.order_by("rank"))
    span = (now - EPOCH).total_seconds()
    incidents = []
    for i in range(count):
        detected = EPOCH + timedelta(seconds=span * i / count + rng.uniform(0, 60))
        severity = severities[rng.choices(range(4), weights=(5, 15, 40, 40))[0]]
        status = rng.choice(OPEN) if rng.random() < 0.01 else Incident.Status.CLOSED
        if status == Incident.Status.CLOSED and rng.random() < 0.05:
            status = Incident.Status.RESOLVED
        closed = status not in OPEN
        incidents.append(
            Incident(
                title=f"{rng.choice(SERVICES)} {rng.choice(['latency', 'errors', 'saturation', 'outage'])} #{i}",
                severity=severity,
                status=status,
                impact_summary="Customers saw errors at checkout." if i % 3 == 0 else "",
                commander=user,
                reporter=user,
                is_public=i % 100 == 0,
                detected_at=detected,
                acknowledged_at=detected + timedelta(minutes=3),
                resolved_at=detected + timedelta(hours=2) if closed else None,
                closed_at=detected + timedelta(days=2) if status == Incident.Status.CLOSED else None,
                ack_due_at=detected + timedelta(minutes=15),
                resolution_due_at=None if closed else detected + timedelta(minutes=severity.resolution_minutes),
            )
        )
    log(f"  {count} incidents")
    with transaction.atomic():
        for chunk in _chunks(incidents):
            Incident.objects.bulk_create(chunk)
        through = Incident.services.through
        for chunk in _chunks(incidents):
            through.objects.bulk_create(
                [through(incident_id=inc.pk, service_id=services[inc.pk % len(services)].pk) for inc in chunk]
            )
        log("  timeline, reviews")
        for chunk in _chunks(incidents):
            events = []
            for inc in chunk:
                events.append(TimelineEvent(incident=inc, kind="declared", at=inc.detected_at, actor=user,
                                            message=f"Declared {inc.severity.code}"))  # fmt: skip
                events.append(TimelineEvent(incident=inc, kind="acknowledged", at=inc.acknowledged_at, actor=user,
                                            message="Acknowledged"))  # fmt: skip
            TimelineEvent.objects.bulk_create(events)
        reviewed = [inc for inc in incidents if inc.status != Incident.Status.TRIAGE and inc.severity.rank <= 2]
        reviewed = [inc for inc in reviewed if inc.resolved_at is not None]
        PostIncidentReview.objects.bulk_create(
            [
                PostIncidentReview(
                    incident=inc,
                    scheduled_for=inc.resolved_at + timedelta(hours=24),
                    status="published" if inc.status == Incident.Status.CLOSED else "draft",
                    summary="What happened and why.",
                )
                for inc in reviewed
            ],
            batch_size=BATCH,
        )
        log("  alerts")
        integration = (
            Integration.objects.filter(name="bench data").first()
            or integration_create(name="bench data", created_by=user).integration
        )
        Alert.objects.bulk_create(
            [
                Alert(
                    integration=integration,
                    fingerprint=f"bench{inc.pk:012x}",
                    status=Alert.Status.RESOLVED if inc.status not in OPEN else Alert.Status.FIRING,
                    alertname="HighErrorRate",
                    labels={"alertname": "HighErrorRate", "service": SERVICES[inc.pk % len(SERVICES)].lower()},
                    starts_at=inc.detected_at,
                    ends_at=inc.resolved_at,
                    incident=inc,
                    first_received_at=inc.detected_at,
                    last_received_at=inc.resolved_at or inc.detected_at,
                )
                for inc in incidents
            ],
            batch_size=BATCH,
        )
        log("  cluster actions")
        target = bench_target(url="redis://127.0.0.1:6379/8")  # bench/workers.py points it beside its broker
        ActionRun.objects.bulk_create(
            [
                ActionRun(
                    kind=ActionKind.REDIS_DELETE_PATTERN,
                    target=target,
                    environment="staging",
                    parameters={"pattern": f"incident-{inc.pk}:*"},
                    reason="Stale keys",
                    incident=inc,
                    requested_by=user,
                    status=ActionRun.Status.SUCCEEDED,
                    command=f"redis-cli --scan --pattern 'incident-{inc.pk}:*' | xargs redis-cli del",
                    finished_at=inc.detected_at + timedelta(minutes=10),
                )
                for inc in incidents[::100]
            ],
            batch_size=BATCH,
        )
        log("  deliveries")
        channel = Channel.objects.filter(kind=Channel.Kind.EMAIL).first()
        if channel is not None:
            for chunk in _chunks(incidents[::10], 1000):
                notifications = Notification.objects.bulk_create(
                    [
                        Notification(
                            event_kind=EventKind.INCIDENT_OPENED,
                            severity="warning",
                            title=inc.title,
                            source=f"incident:{inc.pk}",
                        )  # fmt: skip
                        for inc in chunk
                    ]
                )
                Delivery.objects.bulk_create(
                    [
                        Delivery(
                            notification=n,
                            channel=channel,
                            address="oncall@example.com",
                            recipient_key="bench",
                            status=Delivery.Status.DELIVERED,
                            attempts=1,
                            next_attempt_at=inc.detected_at,
                            delivered_at=inc.detected_at,
                        )  # fmt: skip
                        for n, inc in zip(notifications, chunk, strict=True)
                    ]
                )
    log("  audit entries")
    _audit(incidents, user=user)
    audit_chain_record_verification(now=now)
    sample = next(inc for inc in reversed(incidents) if inc.status == Incident.Status.CLOSED)
    return Loaded(incidents=count, sample_incident_id=sample.pk)


def _audit(incidents: list[Incident], *, user: User) -> None:
    """One creation entry per incident, each sealed into the hash chain as `audit_chain_seal` would."""
    content_type = ContentType.objects.get_for_model(Incident)
    for chunk in _chunks(incidents):
        with transaction.atomic():
            entries = LogEntry.objects.bulk_create(
                [
                    LogEntry(
                        content_type=content_type,
                        object_pk=str(inc.pk),
                        object_id=inc.pk,
                        object_repr=str(inc)[:200],
                        action=LogEntry.Action.CREATE,
                        changes={"title": ["None", inc.title], "status": ["None", inc.status]},
                        changes_text="",
                        actor=user,
                        actor_email=user.email,
                        timestamp=inc.detected_at,
                    )
                    for inc in chunk
                ]
            )
            head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
            if head is None:
                end = audit_chain_end()
                head = AuditChainHead.objects.create(pk=1, position=end.position, hash=end.hash)
            rows = LogEntry.objects.filter(pk__in=[e.pk for e in entries]).order_by("pk")
            seals = []
            position, prev = head.position, head.hash
            for row in rows.values(*ENTRY_FIELDS, "actor_id", "actor__username"):
                position += 1
                seal = AuditSeal(entry_id=row["id"], position=position, prev_hash=prev, actor_pk=row["actor_id"],
                                 actor_username=row["actor__username"] or "")  # fmt: skip
                seal.hash = prev = link_hash(entry=row, position=position, actor_pk=seal.actor_pk,
                                             actor_username=seal.actor_username, prev_hash=prev)  # fmt: skip
                seals.append(seal)
            AuditSeal.objects.bulk_create(seals)
            AuditChainHead.objects.filter(pk=1).update(position=position, hash=prev)
