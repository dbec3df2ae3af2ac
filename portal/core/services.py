"""Writes of the tamper-evident audit chain: sealing entries, recording verifications, pruning under the
maintenance role. The chain's form is in `portal.core.audit_chain`; verification (a read) in `selectors`."""

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from auditlog.models import LogEntry
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction

from portal.core.audit_chain import ENTRY_FIELDS, link_hash
from portal.core.models import AuditAnchor, AuditChainHead, AuditSeal, AuditVerification
from portal.core.selectors import (
    VERIFY_BATCH,
    ChainReport,
    audit_chain_end,
    audit_chain_start,
    audit_chain_verify,
)
from portal.errors import ConflictError, ForbiddenError

logger = logging.getLogger(__name__)
PRUNE_BATCH = 1000


def audit_chain_seal(*, entry_ids: Sequence[int]) -> list[AuditSeal]:
    """Append audit entries `entry_ids` to the chain, in that order, in the caller's transaction (the entries' own).

    The head row stays locked until that transaction ends, so concurrent writers append one after the other and
    the chain never forks; entries rolled back take their seals with them (ids no longer found are skipped: a
    savepoint rolled back their entries). The chain's order is the order of the appends, not of entry ids. The
    entries are read before the head is locked, and sealed in four queries however many they are: a transaction
    that seals once, at its end (`portal.core.audit.sealed_together`), holds the lock only from there to its commit.
    """
    with transaction.atomic(savepoint=False):
        found = {
            entry["id"]: entry
            for entry in LogEntry.objects.filter(pk__in=entry_ids).values(*ENTRY_FIELDS, "actor_id", "actor__username")
        }
        entries = [found[entry_id] for entry_id in dict.fromkeys(entry_ids) if entry_id in found]
        if not entries:
            return []
        head = _locked_head()
        position, prev_hash, seals = head.position, head.hash, []
        for entry in entries:
            position += 1
            seal = AuditSeal(
                entry_id=entry["id"],
                position=position,
                prev_hash=prev_hash,
                actor_pk=entry["actor_id"],
                actor_username=entry["actor__username"] or "",
            )
            seal.hash = prev_hash = link_hash(
                entry=entry,
                position=position,
                actor_pk=seal.actor_pk,
                actor_username=seal.actor_username,
                prev_hash=seal.prev_hash,
            )
            seals.append(seal)
        AuditSeal.objects.bulk_create(seals)
        AuditChainHead.objects.filter(pk=head.pk).update(position=position, hash=prev_hash)
    return seals


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is not None:
        return head
    # First append (or after a test flush): continue from whatever the chain already holds.
    end = audit_chain_end()
    try:
        with transaction.atomic():
            return AuditChainHead.objects.create(pk=1, position=end.position, hash=end.hash)
    except IntegrityError:  # another transaction created it first; wait for it and lock it
        return AuditChainHead.objects.select_for_update().get(pk=1)


def audit_chain_record_verification(*, now: datetime, batch_size: int = VERIFY_BATCH) -> ChainReport:
    """Verify the whole chain and keep the verdict for health and the audit page. The head hash also goes to the
    logs: a copy outside the database that a rewrite of the whole chain cannot reach."""
    report = audit_chain_verify(now=now, batch_size=batch_size)
    AuditVerification.objects.update_or_create(
        pk=1,
        defaults={
            "verified_at": now,
            "ok": report.ok,
            "position": report.last.position,
            "hash": report.last.hash,
            "entry_id": report.last.entry_id,
            "checked": report.checked,
            "problem": report.problem.detail if report.problem else "",
            "problem_entry_id": report.problem.entry_id if report.problem else None,
        },
    )
    if report.problem:
        logger.error("Audit chain broken: %s", report.problem.detail)
    else:
        logger.info(
            "Audit chain intact: %d links checked, head link %d (entry %s) hash %s",
            report.checked,
            report.last.position,
            report.last.entry_id,
            report.last.hash,
        )
    return report


@dataclass(frozen=True)
class PruneResult:
    pruned: int
    anchor: AuditAnchor | None


def audit_chain_prune(*, before: datetime, now: datetime) -> PruneResult:
    """Delete the oldest audit entries, those before `before`, and leave an anchor where verification resumes.

    Only the start of the chain is pruned (up to the first entry at or after `before`), and only when the whole
    chain verifies: pruning a broken chain would destroy the evidence. On PostgreSQL this runs as the maintenance
    role (`AUDIT_MAINTENANCE_ROLE`), the one role the append-only trigger lets delete audit rows.
    """
    report = audit_chain_verify(now=now)
    if report.problem:
        raise ConflictError(f"Refusing to prune: the audit chain is broken ({report.problem.detail})")
    with transaction.atomic(), _as_maintenance_role() as role:
        _locked_head()  # writers wait while the start of the chain moves
        start = audit_chain_start().position
        first_kept = (
            AuditSeal.objects.filter(position__gt=start, entry__timestamp__gte=before)
            .order_by("position")
            .values_list("position", flat=True)
            .first()
        )
        last = min(report.last.position, first_kept - 1) if first_kept is not None else report.last.position
        if last <= start:
            return PruneResult(pruned=0, anchor=None)
        final = AuditSeal.objects.get(position=last)
        pruned = 0
        while batch := list(
            AuditSeal.objects.filter(position__gt=start, position__lte=last)
            .order_by("position")
            .values_list("position", "entry_id")[:PRUNE_BATCH]
        ):
            AuditSeal.objects.filter(position__in=[position for position, _ in batch]).delete()
            LogEntry.objects.filter(pk__in=[entry_id for _, entry_id in batch]).delete()
            pruned += len(batch)
        anchor = AuditAnchor.objects.create(
            position=final.position,
            hash=final.hash,
            entry_id=final.entry_id,
            pruned_count=pruned,
            pruned_before=before,
            created_at=now,
            created_by=role,
        )
    return PruneResult(pruned=pruned, anchor=anchor)


@contextlib.contextmanager
def _as_maintenance_role() -> Iterator[str]:
    """On PostgreSQL, act as the maintenance role inside the block (connecting as it, or as a member of it, both
    work), then as before. SQLite has no roles and no trigger. Needs a transaction: SET LOCAL ends with it."""
    if connection.vendor != "postgresql":
        yield ""
        return
    role = settings.AUDIT_MAINTENANCE_ROLE
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        previous = cursor.fetchone()[0]
        if previous == role:
            yield role
            return
        try:
            with transaction.atomic():
                cursor.execute(f"SET LOCAL ROLE {connection.ops.quote_name(role)}")
        except DatabaseError as exc:
            raise ForbiddenError(
                f"Pruning needs the database role {role!r}: connect as it, or as a role that is a member of it "
                f"({previous!r} is not)"
            ) from exc
        yield role
        cursor.execute(f"SET LOCAL ROLE {connection.ops.quote_name(previous)}")
