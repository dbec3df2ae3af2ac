"""The deployments log: what CI deployed, checked against the freeze calendar, with checklists for production."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.models import Service
from operations import policy
from operations.models import Checklist, ChecklistItem, ChecklistTemplate, Deployment
from operations.models.deployments import commit_validator
from portal.accounts.models import User
from portal.core.models import Environment
from portal.errors import ApplicationError, ConflictError
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
    now: datetime | None = None,
    freeze_check: policy.FreezeCheck = policy.deploy_freeze,
) -> tuple[Deployment, bool]:
    """Log a deployment, unless a freeze holds its environment and no approved exception covers its `change`.

    Returns (deployment, created). Posting the same `external_id` again returns the first deployment unchanged, so CI
    may retry. Production deployments get the pre- and post-deployment checklists.
    """
    now = now or timezone.now()
    started_at = started_at or now
    if started_at > now:
        raise ApplicationError("A deployment cannot start in the future.", field="started_at")
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
    verdict = freeze_check(environment, started_at, change or None)
    if not verdict.allowed:
        until = f" until {verdict.until:%Y-%m-%d %H:%M} UTC" if verdict.until else ""
        raise DeploymentFrozenError(
            f"{Environment(environment).label} is frozen{until}: {' '.join(verdict.reasons) or verdict.level}. "
            "Deploy with the change of an approved freeze exception, or after the freeze.",
            field="environment",
            extra={"freeze": {"level": verdict.level, "reasons": list(verdict.reasons),
                              "until": verdict.until.isoformat() if verdict.until else None}},
        )  # fmt: skip
    deployment = Deployment(
        service=service, environment=environment, version=version, commit=commit, who=who,
        deployed_by=User.objects.filter(username=who, is_active=True).first(), status=status, change=change,
        external_id=external_id, started_at=started_at,
        finished_at=None if status == Deployment.Status.STARTED else now,
        freeze_level=verdict.level or "", freeze_reasons=list(verdict.reasons) if verdict.level else [],
        recorded_by=actor,
    )  # fmt: skip
    try:
        with transaction.atomic():
            deployment.save()
            if environment == Environment.PRODUCTION:
                _attach_checklists(deployment)
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


def _same_run(external_id: str, service: Service, environment: str, version: str) -> Deployment | None:
    existing = Deployment.objects.filter(external_id=external_id).first()
    if existing is None:
        return None
    if (existing.service_id, existing.environment, existing.version) != (service.pk, environment, version):
        raise ConflictError(
            f"external_id {external_id!r} already names deployment #{existing.pk} ({existing}).", field="external_id"
        )
    return existing


def _attach_checklists(deployment: Deployment) -> None:
    templates = ChecklistTemplate.objects.filter(active=True, kind__in=ChecklistTemplate.DEPLOYMENT).order_by("kind")
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
