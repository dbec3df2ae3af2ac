from dataclasses import dataclass
from datetime import datetime

from operations.models import BurnAlert, Checklist, Deployment
from operations.selectors.checklists import overdue_checklists
from operations.selectors.deployments import deployment_list
from operations.selectors.recovery import BackupStatus, backup_status
from operations.selectors.slo import burn_alerts
from portal.core.derived_cache import DerivedCache

RECENT_DEPLOYMENTS_SHOWN = 6
OVERDUE_SHOWN = 6


@dataclass(frozen=True)
class OperationsSummary:
    deployments: list[Deployment]
    overdue: list[Checklist]
    overdue_count: int
    backups: BackupStatus
    burning: list[BurnAlert]


# Every dashboard reader, each refreshing every 30 s, would read these again: kept for the minute (checklists fall
# overdue and days turn with the clock) and dropped on any change to what they show (OperationsConfig.ready).
OPERATIONS_SUMMARY = DerivedCache("operations-summary")


def operations_summary(*, now: datetime) -> OperationsSummary:
    """What the dashboard shows of operations, in a fixed number of queries, none again within the minute."""
    summary: OperationsSummary = OPERATIONS_SUMMARY.get_for_the_minute(lambda: _operations_summary(now=now), now=now)
    return summary


def _operations_summary(*, now: datetime) -> OperationsSummary:
    overdue = overdue_checklists(now=now)
    return OperationsSummary(
        deployments=list(deployment_list()[:RECENT_DEPLOYMENTS_SHOWN]),
        overdue=list(overdue[:OVERDUE_SHOWN]),
        overdue_count=overdue.count(),
        backups=backup_status(now=now),
        burning=list(burn_alerts().filter(ended_at__isnull=True)),
    )
