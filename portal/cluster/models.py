"""What cluster actions act on (targets, their namespaces, the services' workloads) and what was run."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from portal.cluster.secrets import mask_url
from portal.core.fields import EncryptedCharField
from portal.core.models import Environment

# Lower is more critical.
ENVIRONMENT_RANK = {Environment.PRODUCTION: 0, Environment.STAGING: 1, Environment.DEVELOPMENT: 2}


class Target(models.Model):
    """A Kubernetes cluster (a kubeconfig context) or a data store (a URL, which is a secret) actions act on.

    A cluster's environment is that of its nodes (cordon and drain); its namespaces each name their own, never a
    more critical one, since a node runs the pods of every namespace.
    """

    class Kind(models.TextChoices):
        KUBERNETES = "kubernetes", "Kubernetes cluster"
        REDIS = "redis", "Redis"
        POSTGRESQL = "postgresql", "PostgreSQL"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    environment = models.CharField(max_length=12, choices=Environment.choices)
    description = models.CharField(max_length=300, blank=True)
    enabled = models.BooleanField(default=True, help_text="Disabled targets accept no new actions.")
    context = models.CharField(
        max_length=200,
        blank=True,
        help_text="Kubernetes: the kubeconfig context of the cluster; empty uses KUBE_CONTEXT or the current one.",
    )
    min_replicas = models.PositiveIntegerField(default=0, help_text="Kubernetes: the least a scale may ask for.")
    max_replicas = models.PositiveIntegerField(default=50, help_text="Kubernetes: the most a scale may ask for.")
    url = EncryptedCharField(
        max_length=500,
        blank=True,
        help_text="Redis or PostgreSQL: the connection URL with its credentials. Stored as a secret, shown masked.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(min_replicas__lte=F("max_replicas")), name="target_replica_bounds")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def url_masked(self) -> str:
        return mask_url(self.url) if self.url else ""

    def clean(self) -> None:
        from portal.cluster.datastores import url_errors

        if self.min_replicas is not None and self.max_replicas is not None and self.min_replicas > self.max_replicas:
            raise ValidationError({"max_replicas": f"Must be at least min_replicas ({self.min_replicas})."})
        if self.kind == self.Kind.KUBERNETES:
            if self.url:
                raise ValidationError({"url": "A Kubernetes target is reached through its kubeconfig context."})
            if self.pk is not None:
                self._check_namespaces()
        elif self.kind in (self.Kind.REDIS, self.Kind.POSTGRESQL):
            if not self.url:
                raise ValidationError({"url": f"A {self.get_kind_display()} target needs its connection URL."})
            if error := url_errors(self.kind, self.url):
                raise ValidationError({"url": error})

    def _check_namespaces(self) -> None:
        rank = ENVIRONMENT_RANK[Environment(self.environment)]
        critical = [ns.name for ns in self.namespaces.all() if ENVIRONMENT_RANK[Environment(ns.environment)] < rank]
        if critical:
            raise ValidationError(
                {
                    "environment": f"Namespaces {', '.join(critical)} are in a more critical environment; a node "
                    "runs their pods, so the cluster cannot be less critical than they are."
                }
            )


class Namespace(models.Model):
    """A namespace of a cluster target and the environment it belongs to (production, staging, development)."""

    target = models.ForeignKey(
        Target,
        on_delete=models.CASCADE,
        related_name="namespaces",
        limit_choices_to={"kind": Target.Kind.KUBERNETES},
    )
    name = models.CharField(max_length=63)
    environment = models.CharField(max_length=12, choices=Environment.choices)

    class Meta:
        ordering = ["target__name", "name"]
        constraints = [models.UniqueConstraint(fields=["target", "name"], name="uniq_namespace_per_target")]

    def __str__(self) -> str:
        return f"{self.target}/{self.name}"

    def clean(self) -> None:
        if self.target_id is None:
            return
        if self.target.kind != Target.Kind.KUBERNETES:
            raise ValidationError({"target": "Only Kubernetes targets have namespaces."})
        if ENVIRONMENT_RANK[Environment(self.environment)] < ENVIRONMENT_RANK[Environment(self.target.environment)]:
            raise ValidationError(
                {
                    "environment": f"The cluster {self.target} is {self.target.get_environment_display()}: its "
                    "nodes would run this namespace's pods, so raise the cluster's environment first."
                }
            )


class Workload(models.Model):
    """What a service runs on: a deployment in a namespace, or a data store. An incident's quick actions start here."""

    service = models.ForeignKey("incidents.Service", on_delete=models.CASCADE, related_name="workloads")
    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="workloads")
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    deployment = models.CharField(max_length=253, blank=True)

    class Meta:
        ordering = ["service__name", "target__name", "namespace__name", "deployment"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "target", "namespace", "deployment"], name="uniq_workload_per_service"
            )
        ]

    def __str__(self) -> str:
        where = f"{self.namespace.name}/{self.deployment}" if self.namespace_id else "data store"
        return f"{self.service} on {self.target} ({where})"

    def clean(self) -> None:
        if self.target_id is None:
            return
        if self.target.kind == Target.Kind.KUBERNETES:
            if self.namespace_id is None or not self.deployment:
                raise ValidationError({"deployment": "A workload on a cluster names its namespace and deployment."})
            if self.namespace.target_id != self.target_id:
                raise ValidationError({"namespace": f"Choose a namespace of {self.target}."})
        elif self.namespace_id is not None or self.deployment:
            raise ValidationError({"deployment": "A data store has no namespace or deployment."})


class ActionKind(models.TextChoices):
    SCALE = "scale", "Scale"
    RESTART = "restart", "Rollout restart"
    ROLLBACK = "rollback", "Rollback (rollout undo)"
    ROLLOUT_STATUS = "rollout_status", "Rollout status"
    ROLLOUT_HISTORY = "rollout_history", "Rollout history"
    CORDON = "cordon", "Cordon node"
    UNCORDON = "uncordon", "Uncordon node"
    DRAIN = "drain", "Drain node"
    REDIS_FLUSH = "redis_flush", "Redis FLUSHDB"
    REDIS_DELETE_PATTERN = "redis_delete_pattern", "Redis: delete keys by pattern"
    PG_TERMINATE_IDLE = "pg_terminate_idle", "PostgreSQL: terminate idle connections"
    PG_TERMINATE_BACKEND = "pg_terminate_backend", "PostgreSQL: terminate a backend"
    PG_VACUUM_ANALYZE = "pg_vacuum_analyze", "PostgreSQL: VACUUM ANALYZE a table"
    SECRET_SET = "secret_set", "Set a secret's key"


class ActionRun(models.Model):
    """One requested cluster action, from request through approval and execution to its outcome.

    requested -> (confirmed) awaiting_approval -> queued -> running -> succeeded | failed | timed_out; a run may
    also end cancelled or rejected before it runs, and abandoned when its worker stopped reporting mid-run
    (the outcome is unknown: a person checks; it is never run again on its own). An Incident Commander who checked
    the target closes an abandoned run as succeeded, failed or partly done, with a note (`resolved_by`).
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested (not confirmed)"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        REJECTED = "rejected", "Rejected"
        TIMED_OUT = "timed_out", "Timed out"
        ABANDONED = "abandoned", "Abandoned (outcome unknown)"
        PARTIAL = "partial", "Partly done"

    kind = models.CharField(max_length=24, choices=ActionKind.choices)
    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="runs")
    environment = models.CharField(
        max_length=12, choices=Environment.choices, help_text="Of the namespace, or of the target, when requested."
    )
    parameters = models.JSONField(default=dict)
    secret_value = EncryptedCharField(
        max_length=8000,
        blank=True,
        help_text="Setting a secret's key: the value typed, encrypted, kept only until the worker takes it or the run "
        "ends; never audited or shown.",
    )
    reason = models.TextField()
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True, related_name="action_runs"
    )
    emergency = models.BooleanField(default=False, help_text="An emergency change: may run during a freeze.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="action_runs")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REQUESTED, db_index=True)
    command = models.TextField(help_text="The kubectl, redis-cli or SQL equivalent, for people.")
    expectation = models.TextField(blank=True, help_text="What will happen, as read from the target when requested.")
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    approval_expires_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="The worker that ran it.")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When a task message was last sent.")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who closed the abandoned run after checking its target.",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True, help_text="What they found on the target.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "enqueued_at"]),
            models.Index(fields=["status", "heartbeat_at"]),
            # The actions list's order, unfiltered and by status.
            models.Index(models.F("created_at").desc(), models.F("id").desc(), name="actionrun_created_idx"),
            models.Index(
                "status", models.F("created_at").desc(), models.F("id").desc(), name="actionrun_status_created_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.get_kind_display()} on {self.target}"

    @property
    def reference(self) -> str:
        return self.reference_of(self.pk)

    @staticmethod
    def reference_of(pk: int) -> str:
        return f"ACT-{pk}"

    @property
    def is_live(self) -> bool:
        """Still moving on its own: pages keep polling it."""
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


FINISHED = frozenset(
    {
        ActionRun.Status.SUCCEEDED,
        ActionRun.Status.FAILED,
        ActionRun.Status.CANCELLED,
        ActionRun.Status.REJECTED,
        ActionRun.Status.TIMED_OUT,
        ActionRun.Status.ABANDONED,
        ActionRun.Status.PARTIAL,
    }
)
# What a person may record for an abandoned run once they have checked its target.
RESOLUTIONS = (ActionRun.Status.SUCCEEDED, ActionRun.Status.FAILED, ActionRun.Status.PARTIAL)


class ActionApproval(models.Model):
    """A second person's decision on a run that needs one; never the requester's."""

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    run = models.ForeignKey(ActionRun, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["decided_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["run", "approver"], name="uniq_decision_per_approver")]

    def __str__(self) -> str:
        return f"{self.run.reference} {self.decision} by {self.approver}"


class ProgressLine(models.Model):
    """One line of a run's output, written as it happens."""

    run = models.ForeignKey(ActionRun, on_delete=models.CASCADE, related_name="lines")
    at = models.DateTimeField()
    message = models.TextField()

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.message[:80]}"


class LookKind(models.TextChoices):
    PODS = "pods", "Pods"
    EVENTS = "events", "Events"
    LOGS = "logs", "Logs"
    TOP_PODS = "top_pods", "Top pods"
    TOP_NODES = "top_nodes", "Top nodes"
    ROLLOUT_STATUS = "rollout_status", "Rollout status"
    REDIS_INFO = "redis_info", "Redis INFO"
    PG_CONNECTIONS = "pg_connections", "PostgreSQL connections"
    PG_LONG_QUERIES = "pg_long_queries", "PostgreSQL long-running queries"
    PG_SIZE = "pg_size", "PostgreSQL database size"
    PG_STATEMENTS = "pg_statements", "PostgreSQL slow queries"


class Look(models.Model):
    """One read-only look at a target for an incident (pods, events, logs, top, data-store statistics), fetched by a
    worker under a deadline. Not a change, so not in the audit log: the incident's timeline records who looked."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Fetching"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=20, choices=LookKind.choices)
    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="looks")
    parameters = models.JSONField(default=dict)
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True, related_name="looks"
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED, db_index=True)
    command = models.TextField(help_text="The kubectl, redis-cli or SQL equivalent.")
    progress = models.CharField(max_length=300, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    columns = models.JSONField(default=list, blank=True)
    rows = models.JSONField(default=list, blank=True)
    text = models.TextField(blank=True)
    truncated = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"LOOK-{self.pk} {self.kind} on {self.target}"

    @property
    def is_live(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
