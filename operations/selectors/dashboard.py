from dataclasses import dataclass
from datetime import datetime

from operations.models import BurnAlert, Checklist, Deployment
from operations.selectors.checklists import overdue_checklists
from operations.selectors.deployments import deployment_list
from operations.selectors.recovery import BackupStatus, backup_status
from operations.selectors.slo import burn_alerts

RECENT_DEPLOYMENTS_SHOWN = 6
OVERDUE_SHOWN = 6


@dataclass(frozen=True)
class OperationsSummary:
    deployments: list[Deployment]
    overdue: list[Checklist]
    overdue_count: int
    backups: BackupStatus
    burning: list[BurnAlert]


def operations_summary(*, now: datetime) -> OperationsSummary:
    """What the dashboard shows of operations, in a fixed number of queries."""
    overdue = overdue_checklists(now=now)
    return OperationsSummary(
        deployments=list(deployment_list()[:RECENT_DEPLOYMENTS_SHOWN]),
        overdue=list(overdue[:OVERDUE_SHOWN]),
        overdue_count=overdue.count(),
        backups=backup_status(now=now),
        burning=list(burn_alerts().filter(ended_at__isnull=True)),
    )
