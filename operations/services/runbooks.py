"""Runbooks with their alert names and quick actions, written together or not at all."""

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from operations.models import QuickAction, Runbook, RunbookAlert
from portal.errors import ApplicationError

RUNBOOK_FIELDS = ("slug", "title", "when", "body", "owner", "owner_team", "last_reviewed_on", "review_interval_days")


@dataclass(frozen=True, kw_only=True)
class QuickActionSpec:
    label: str
    kind: str
    target: str = ""
    deployment: str = ""
    namespace: str = ""
    replicas: int | None = None


def _invalid(exc: ValidationError, prefix: str = "") -> ApplicationError:
    field, messages = next(iter(exc.message_dict.items()))
    return ApplicationError(" ".join(messages), field=f"{prefix}{field}")


def runbook_save(
    *,
    runbook: Runbook | None = None,
    fields: dict[str, object],
    alertnames: Sequence[str] | None = None,
    quick_actions: Sequence[QuickActionSpec] | None = None,
) -> Runbook:
    """Create a runbook (`runbook` None) or change one. Alert names and quick actions, when given, replace the
    runbook's; a bad one is a 400 naming it (`quick_actions[1].deployment`) and nothing is kept."""
    if unknown := set(fields) - set(RUNBOOK_FIELDS):
        raise ApplicationError(f"Unknown runbook fields: {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    names = None
    if alertnames is not None:
        names = list(dict.fromkeys(name.strip() for name in alertnames))
        if any(not name or len(name) > 200 for name in names):
            raise ApplicationError("Alert names are 1 to 200 characters.", field="alertnames")
    with transaction.atomic():
        runbook = runbook or Runbook()
        for name, value in fields.items():
            setattr(runbook, name, value)
        try:
            runbook.full_clean()
        except ValidationError as exc:
            raise _invalid(exc) from exc
        runbook.save()
        if names is not None:
            runbook.alert_links.exclude(alertname__in=names).delete()
            kept = set(runbook.alert_links.values_list("alertname", flat=True))
            for name in names:
                if name not in kept:
                    RunbookAlert.objects.create(runbook=runbook, alertname=name)
        if quick_actions is not None:
            runbook.quick_actions.all().delete()
            for position, spec in enumerate(quick_actions):
                action = QuickAction(runbook=runbook, position=position, label=spec.label, kind=spec.kind,
                                     target=spec.target, deployment=spec.deployment, namespace=spec.namespace,
                                     replicas=spec.replicas)  # fmt: skip
                try:
                    action.full_clean()
                except ValidationError as exc:
                    raise _invalid(exc, f"quick_actions[{position}].") from exc
                action.save()
    return runbook
