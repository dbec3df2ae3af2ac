from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Prefetch, QuerySet

from operations.models import BackupVerification, DrillPlan, DrillRecord
from operations.policy import operations_day

# How many days the dashboard's backup strip shows.
BACKUP_DAYS_SHOWN = 7


@dataclass(frozen=True)
class BackupDay:
    day: date
    verification: BackupVerification | None
    is_today: bool

    @property
    def state(self) -> str:
        """'ok', 'failed', 'missing' (a past day nobody verified) or 'pending' (today, not yet)."""
        if self.verification is not None:
            return "ok" if self.verification.result == BackupVerification.Result.OK else "failed"
        return "pending" if self.is_today else "missing"


@dataclass(frozen=True)
class BackupStatus:
    days: list[BackupDay]  # newest first, today included

    @property
    def state(self) -> str:
        """Red ('missing' or 'failed') when yesterday has no good verification or the latest one failed."""
        today, yesterday = self.days[0], self.days[1]
        if yesterday.state in {"missing", "failed"}:
            return yesterday.state
        return "failed" if today.state == "failed" else today.state

    @property
    def is_red(self) -> bool:
        return self.state in {"missing", "failed"}


def backup_status(*, now: datetime, days: int = BACKUP_DAYS_SHOWN) -> BackupStatus:
    today = operations_day(now)
    first = today - timedelta(days=days - 1)
    found = {row.day: row for row in BackupVerification.objects.filter(day__gte=first, day__lte=today)
             .select_related("verified_by")}  # fmt: skip
    shown = [today - timedelta(days=offset) for offset in range(days)]
    return BackupStatus(days=[BackupDay(day=day, verification=found.get(day), is_today=day == today) for day in shown])


def backup_verifications() -> QuerySet[BackupVerification]:
    return BackupVerification.objects.select_related("verified_by").order_by("-day")


def drill_records() -> QuerySet[DrillRecord]:
    return DrillRecord.objects.select_related("plan", "objective", "recorded_by").order_by("-performed_at", "-pk")


def drill_plans(*, year: int) -> QuerySet[DrillPlan]:
    """The quarterly plan with the drills recorded for it in `year`."""
    return DrillPlan.objects.select_related("objective").prefetch_related(
        Prefetch("records", queryset=drill_records().filter(year=year), to_attr="records_this_year")
    )
