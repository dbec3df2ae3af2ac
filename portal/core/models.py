from django.db import models


class Environment(models.TextChoices):
    """The seeds' deployment environments, shared by freeze rules, deployments and cluster-action targets."""

    PRODUCTION = "production", "Production"
    STAGING = "staging", "Staging"
    DEVELOPMENT = "development", "Development"


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the heartbeat task that beat schedules."""

    hostname = models.CharField(max_length=255, unique=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.hostname} @ {self.last_seen:%Y-%m-%d %H:%M:%S}Z"


class AuditSeal(models.Model):
    """A link of the audit hash chain: one per django-auditlog entry, written in the entry's transaction.

    `hash` covers the entry's content, who made it and `prev_hash`, the hash of the link at `position - 1` (or of
    the anchor left by the last prune): editing, deleting or slipping in an entry breaks the chain from there on.
    The actor is copied here because deleting the user empties the entry's own actor column.
    """

    entry = models.OneToOneField("auditlog.LogEntry", on_delete=models.PROTECT, primary_key=True, related_name="seal")
    position = models.PositiveBigIntegerField(unique=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    actor_pk = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True, db_index=True)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"#{self.position} entry {self.entry_id} {self.hash[:12]}"


class AuditChainHead(models.Model):
    """The chain's last link (one row). Appends lock it, which keeps the chain a single line under concurrent
    writers; verification compares it with the last seal, so links cut off the end are noticed."""

    position = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_chain_head_single_row")]

    def __str__(self) -> str:
        return f"head #{self.position} {self.hash[:12]}"


class AuditAnchor(models.Model):
    """Left by `audit_prune`: the position and hash of the last link it removed, where verification starts."""

    position = models.PositiveBigIntegerField(unique=True)
    hash = models.CharField(max_length=64)
    entry_id = models.BigIntegerField()
    pruned_count = models.PositiveBigIntegerField()
    pruned_before = models.DateTimeField()
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, help_text="The database role that pruned.")

    class Meta:
        ordering = ["-position"]

    def __str__(self) -> str:
        return f"anchor #{self.position} {self.hash[:12]}"


class AuditVerification(models.Model):
    """The result of the last full verification of the chain (one row), which beat refreshes. Health and the
    audit page read it, and verify only the links added since."""

    verified_at = models.DateTimeField()
    ok = models.BooleanField()
    position = models.PositiveBigIntegerField(help_text="The last link verified intact.")
    hash = models.CharField(max_length=64, help_text="The hash of that link.")
    entry_id = models.BigIntegerField(null=True, blank=True, help_text="The audit entry of that link.")
    checked = models.PositiveBigIntegerField()
    problem = models.TextField(blank=True)
    problem_entry_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_verification_single_row")]

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'broken'} @ {self.verified_at:%Y-%m-%d %H:%M:%S}Z"
