"""The deployments log: what CI deployed or plans to, checked against the freeze calendar, with checklists for
production (the pre-deployment one gates the start) and staging."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, Service
from maintenance.models import FreezePass
from maintenance.policy import FreezeStatus
from maintenance.services import freeze_pass_record
from operations import policy
from operations.models import Checklist, ChecklistItem, ChecklistTemplate, Deployment
from operations.models.deployments import commit_validator
from portal.accounts.models import User
from portal.core.models import Environment
from portal.errors import ApplicationError, ChecklistOpenError, ConflictError
from portal.notifications.models import EventKind
from portal.notifications.models import Severity as NotificationSeverity
from portal.notifications.services import notify


class DeploymentFrozenError(ConflictError):
    """The freeze calendar refuses the deployment; `extra["freeze"]` carries the gate's answer."""


def deployment_record(
    *,
    service: Service,
    environment: str,
    version: str,
    commit: str,
    who: str,
    actor: User | None,
    status: str = Deployment.Status.STARTED,
    change: str = "",
    external_id: str = "",
    started_at: datetime | None = None,
    incident: Incident | None = None,
    override_reason: str = "",
    now: datetime | None = None,
    freeze_check: policy.FreezeCheck = policy.deploy_freeze,
) -> tuple[Deployment, bool]:
    """Log a deployment, unless a freeze holds its environment and nothing the freeze's level accepts lets it
    through (an approved exception for its `change`, an emergency for `incident`).

    Returns (deployment, created). Posting the same `external_id` again returns the first deployment unchanged, so CI
    may retry. A `planned` deployment starts at `started_at` (in the future, or not) and is checked when it starts;
    any other production deployment started with its pre-deployment items open, so it needs `override_reason`.
    """
    now = now or timezone.now()
    started_at = started_at or now
    override_reason = override_reason.strip()
    planned = status == Deployment.Status.PLANNED
    if started_at > now and not planned:
        raise ApplicationError("A deployment cannot start in the future: record it as planned.", field="started_at")
    if environment not in Environment.values:
        raise ApplicationError(f"Unknown environment {environment!r}; use one of {', '.join(Environment.values)}.",
                               field="environment")  # fmt: skip
    if status not in Deployment.Status.values:
        raise ApplicationError(f"Unknown status {status!r}.", field="status")
    try:
        commit_validator(commit)
    except ValidationError as exc:
        raise ApplicationError(exc.messages[0], field="commit") from exc
    if external_id and (existing := _same_run(external_id, service, environment, version)):
        return existing, False
    verdict = None if planned else _freeze_gate(freeze_check, environment, started_at, change, incident)
    kinds = policy.DEPLOYMENT_CHECKLISTS.get(environment, ())
    if not planned and policy.GATING_CHECKLIST in kinds and not override_reason:
        # Recorded as started, its pre-deployment checklist would be born with every item open.
        template = ChecklistTemplate.objects.filter(active=True, kind=policy.GATING_CHECKLIST).first()
        if template is not None:
            raise _checklist_open(list(template.items))
    deployment = Deployment(
        service=service, environment=environment, version=version, commit=commit, who=who,
        deployed_by=User.objects.filter(username=who, is_active=True).first(), status=status, change=change,
        external_id=external_id, started_at=started_at, incident=incident,
        finished_at=None if status in (Deployment.Status.PLANNED, Deployment.Status.STARTED) else now,
        checklist_override="" if planned else override_reason, recorded_by=actor,
    )  # fmt: skip
    _keep_verdict(deployment, verdict)
    try:
        with transaction.atomic():
            deployment.save()
            _attach_checklists(deployment, kinds)
            _record_pass(deployment, verdict, actor=actor, at=started_at)
            notify(
                event=EventKind.DEPLOYMENT,
                severity=NotificationSeverity.INFO,
                title=f"{service} {version} to {Environment(environment).label}: {deployment.get_status_display()}",
                summary=f"By {who}, commit {commit}" + (f", change {change}" if change else ""),
                services=[service],
                source=f"deployment:{deployment.pk}",
                created_by=actor,
                now=now,
            )
    except IntegrityError:
        # A retry of the same CI run that raced this one: it won; answer with its row.
        if external_id and (existing := _same_run(external_id, service, environment, version)):
            return existing, False
        raise
    return deployment, True


def deployment_start(
    *,
    deployment: Deployment,
    actor: User | None,
    override_reason: str = "",
    incident: Incident | None = None,
    now: datetime | None = None,
    freeze_check: policy.FreezeCheck = policy.deploy_freeze,
) -> Deployment:
    """A planned deployment starts now: its pre-deployment items ticked (or `override_reason` says why not), and the
    freeze calendar asked about this instant."""
    now = now or timezone.now()
    override_reason = override_reason.strip()
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
        if deployment.status != Deployment.Status.PLANNED:
            raise ConflictError(
                f"Deployment #{deployment.pk} is {deployment.get_status_display()}; only a planned one starts.",
                field="status",
            )
        open_items = list(
            ChecklistItem.objects.filter(
                checklist__deployment=deployment, checklist__kind=policy.GATING_CHECKLIST, done_at__isnull=True
            ).order_by("position").values_list("text", flat=True)
        )  # fmt: skip
        incident = incident or deployment.incident
        verdict = _freeze_gate(freeze_check, deployment.environment, now, deployment.change, incident)
        if open_items and not override_reason:
            raise _checklist_open(open_items)
        deployment.status, deployment.started_at, deployment.incident = Deployment.Status.STARTED, now, incident
        deployment.checklist_override = override_reason if open_items else ""
        _keep_verdict(deployment, verdict)
        deployment.save()
        _record_pass(deployment, verdict, actor=actor, at=now)
    return deployment


def _checklist_open(open_items: list[str]) -> ChecklistOpenError:
    return ChecklistOpenError(
        f"{len(open_items)} pre-deployment item(s) are open: {'; '.join(open_items)}. Tick them, or say "
        "why to go on without them.",
        field="override_reason",
        extra={"open_items": open_items},
    )


def _freeze_gate(
    freeze_check: policy.FreezeCheck, environment: str, at: datetime, change: str, incident: Incident | None
) -> FreezeStatus:
    verdict = freeze_check(environment, at, change or None, incident)
    if not verdict.allowed:
        until = f" until {verdict.until:%Y-%m-%d %H:%M} UTC" if verdict.until else ""
        raise DeploymentFrozenError(
            f"{Environment(environment).label} is frozen{until}: {' '.join(verdict.reasons) or verdict.level}. "
            f"{verdict.rule}".strip(),
            field="environment",
            extra={"freeze": {"level": verdict.level, "rule": verdict.rule, "reasons": list(verdict.reasons),
                              "until": verdict.until.isoformat() if verdict.until else None}},
        )  # fmt: skip
    return verdict


def _keep_verdict(deployment: Deployment, verdict: FreezeStatus | None) -> None:
    frozen = verdict is not None and verdict.level is not None
    deployment.freeze_level = verdict.level or "" if frozen and verdict else ""
    deployment.freeze_reasons = list(verdict.reasons) if frozen and verdict else []
    deployment.freeze_pass = (verdict.passed_by or "") if frozen and verdict else ""


def _record_pass(deployment: Deployment, verdict: FreezeStatus | None, *, actor: User | None, at: datetime) -> None:
    if verdict is not None:
        freeze_pass_record(
            verdict=verdict, environment=deployment.environment, subject=FreezePass.Subject.DEPLOYMENT,
            description=f"{deployment.service} {deployment.version} ({deployment.change or deployment.commit})",
            link=reverse("deployment-detail", args=[deployment.pk]), actor=actor, at=at,
        )  # fmt: skip


def _same_run(external_id: str, service: Service, environment: str, version: str) -> Deployment | None:
    existing = Deployment.objects.filter(external_id=external_id).first()
    if existing is None:
        return None
    if (existing.service_id, existing.environment, existing.version) != (service.pk, environment, version):
        raise ConflictError(
            f"external_id {external_id!r} already names deployment #{existing.pk} ({existing}).", field="external_id"
        )
    return existing


def _attach_checklists(deployment: Deployment, kinds: tuple[str, ...]) -> None:
    templates = ChecklistTemplate.objects.filter(active=True, kind__in=kinds).order_by("kind")
    for template in templates:
        checklist = Checklist.objects.create(
            template=template, title=f"{template.name}: {deployment.service} {deployment.version}",
            kind=template.kind, deployment=deployment,
        )  # fmt: skip
        for position, text in enumerate(template.items):
            ChecklistItem.objects.create(checklist=checklist, position=position, text=text)


def deployment_set_status(*, deployment: Deployment, status: str, now: datetime | None = None) -> Deployment:
    """CI reports how the deployment ended (or that it was rolled back later). The audit log names who did."""
    now = now or timezone.now()
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
        allowed = policy.DEPLOYMENT_TRANSITIONS[deployment.status]
        if status == Deployment.Status.STARTED and status in allowed:
            raise ApplicationError(
                f"Start deployment #{deployment.pk} through deployments/{deployment.pk}/start/: its pre-deployment "
                "checklist and the freeze calendar are checked there.",
                field="status",
            )
        if status not in allowed:
            names = ", ".join(Deployment.Status(name).label for name in allowed) or "none"
            raise ApplicationError(
                f"Deployment #{deployment.pk} is {deployment.get_status_display()}; it can become: {names}.",
                field="status", extra={"allowed": list(allowed)},
            )  # fmt: skip
        if deployment.status == Deployment.Status.STARTED:
            deployment.finished_at = now
        deployment.status = status
        deployment.save()
    return deployment
