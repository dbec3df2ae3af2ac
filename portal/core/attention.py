"""What the dashboard leads with: what needs a person now. Reads only (selectors), composed from the apps' own."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q, QuerySet

from incidents.models import Incident
from incidents.selectors import open_incidents_brief
from maintenance import selectors as maintenance_selectors
from maintenance.models import FreezeException
from oncall.models import Layer
from oncall.schedule import Segment
from oncall.selectors import ONCALL_NOW, ONCALL_NOW_HORIZON, first_edge, rotation_list, schedules, with_versions
from portal.accounts.models import User
from portal.accounts.roles import Role, has_role
from portal.cluster import policy as cluster_policy
from portal.cluster.models import ActionRun
from portal.cluster.selectors import action_runs
from portal.core.derived_cache import DerivedCache

# Far enough to find the next handoff of a weekly rotation after overrides, and a monthly maintenance.
NEXT_SHIFT_HORIZON = timedelta(days=35)
NEXT_MAINTENANCE_HORIZON = timedelta(days=35)


@dataclass(frozen=True)
class IncidentNeed:
    """An open incident and why a person is needed: deadlines already missed, nobody acknowledged, nobody owns it."""

    incident: Incident
    overdue: tuple[str, ...]
    unacknowledged: bool
    unowned: bool

    @property
    def needs_someone(self) -> bool:
        return bool(self.overdue or self.unacknowledged or self.unowned)


def _needs(now: datetime) -> dict[str, Q]:
    """Why an open incident needs a person, as conditions the database evaluates (for ordering and counting)."""
    return {
        "is_overdue": Q(acknowledged_at__isnull=True, ack_due_at__lte=now)
        | Q(update_due_at__lte=now)
        | Q(resolution_due_at__lte=now),
        "is_unacknowledged": Q(acknowledged_at__isnull=True),
        "is_unowned": Q(commander__isnull=True),
    }


@dataclass(frozen=True)
class IncidentNeeds:
    """The first `limit` open incidents by need, and how many are open and need someone in all."""

    needs: list[IncidentNeed]
    total: int
    needing_someone: int


def incidents_by_need(incidents: QuerySet[Incident], *, now: datetime, limit: int) -> IncidentNeeds:
    """Open incidents, those needing a person first: a missed deadline (acknowledge, update or resolution), then not
    acknowledged, then without a commander; by severity and age within each. Ordered, cut to `limit` and counted by
    the database, so the dashboard costs the same with ten open incidents or a thousand."""
    conditions = _needs(now)
    flags = {name: ExpressionWrapper(condition, output_field=BooleanField()) for name, condition in conditions.items()}
    first = incidents.annotate(**flags).order_by(
        *(F(name).desc() for name in flags), "severity__rank", "detected_at", "pk"
    )[:limit]
    needs = []
    for incident in first:
        deadlines = (
            ("Acknowledge", None if incident.acknowledged_at else incident.ack_due_at),
            ("Update", incident.update_due_at),
            ("Resolution", incident.resolution_due_at),
        )
        overdue = tuple(label for label, due in deadlines if due is not None and due <= now)
        needs.append(IncidentNeed(incident, overdue, incident.acknowledged_at is None, incident.commander_id is None))
    needing = conditions["is_overdue"] | conditions["is_unacknowledged"] | conditions["is_unowned"]
    counts = incidents.aggregate(total=Count("pk"), needing=Count("pk", filter=needing))
    return IncidentNeeds(needs, counts["total"], counts["needing"])


# The dashboard's open incidents by need, the same for every reader (each refreshing every 30 s), and a sort of every
# open incident: kept for the minute (a deadline passing within it shows in the next) and dropped on any change to an
# incident, a severity or a user (CoreConfig.ready).
DASHBOARD_NEEDS = DerivedCache("dashboard-needs")


def dashboard_needs(*, now: datetime, limit: int) -> IncidentNeeds:
    """`incidents_by_need` of every open incident (`open_incidents_brief`), as of this minute."""
    needs: IncidentNeeds = DASHBOARD_NEEDS.get_for_the_minute(
        lambda: incidents_by_need(open_incidents_brief(), now=now, limit=limit), now=now, key=f"{limit}:"
    )
    return needs


@dataclass(frozen=True)
class Approvals:
    """Requests `user` may decide now: cluster actions awaiting a second person, freeze exceptions pending."""

    runs: list[ActionRun]
    exceptions: list[FreezeException]

    def __len__(self) -> int:
        return len(self.runs) + len(self.exceptions)


def approvals_for(user: User, *, now: datetime) -> Approvals:
    if not has_role(user, Role.INCIDENT_COMMANDER):
        return Approvals([], [])
    waiting = action_runs().filter(status=ActionRun.Status.AWAITING_APPROVAL).exclude(requested_by=user)
    runs = [run for run in waiting if cluster_policy.approval_refusal(approver=user, run=run, at=now) is None]
    exceptions = list(
        FreezeException.objects.filter(status=FreezeException.Status.PENDING, ends_at__gt=now)
        .exclude(requested_by=user)
        .select_related("requested_by")
    )
    return Approvals(runs, exceptions)


@dataclass(frozen=True)
class OnCallNowAndNext:
    rotation_id: int
    rotation_name: str
    now: Segment[User] | None
    secondary: Segment[User] | None
    next: Segment[User] | None


def oncall_now_and_next(*, now: datetime) -> list[OnCallNowAndNext]:
    """Each rotation's primary and secondary now and who takes the pager next. Kept with the on-call answers
    (ONCALL_NOW: dropped on any schedule change) until the first shift edge among them, at most an hour ahead, so
    a dashboard that refreshes itself every 30 s reads the schedules about once an hour."""

    def compute() -> tuple[list[OnCallNowAndNext], datetime]:
        rows = []
        found = schedules(with_versions(rotation_list()), start=now, end=now + NEXT_SHIFT_HORIZON)
        for schedule in found:
            current = schedule.at(layer=Layer.PRIMARY, at=now)
            following = None
            if current is not None and current.end < schedule.end:
                following = schedule.at(layer=Layer.PRIMARY, at=current.end)
            secondary = schedule.at(layer=Layer.SECONDARY, at=now)
            rows.append(OnCallNowAndNext(schedule.rotation.pk, schedule.rotation.name, current, secondary, following))
        return rows, first_edge(found, after=now, limit=now + ONCALL_NOW_HORIZON)

    rows: list[OnCallNowAndNext] = ONCALL_NOW.get_or_compute("dashboard", compute, now=now)
    return rows


# The dashboard's maintenance, which its every reader (each refreshing every 30 s) would otherwise read again: kept for
# the minute and dropped on any change to the calendar (CoreConfig.ready).
DASHBOARD_MAINTENANCE = DerivedCache("dashboard-maintenance")

MaintenanceAhead = tuple[list[maintenance_selectors.CalendarEntry], maintenance_selectors.CalendarEntry | None]


def maintenance_today_and_next(*, now: datetime) -> MaintenanceAhead:
    """Today's maintenance (UTC day) that has not ended yet, and the occurrence running now or starting next within
    NEXT_MAINTENANCE_HORIZON: one read of the calendar for both, none again within the minute."""

    def compute() -> MaintenanceAhead:
        day = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
        tomorrow = day + timedelta(days=1)
        entries = maintenance_selectors.calendar_entries(start=day, end=max(tomorrow, now + NEXT_MAINTENANCE_HORIZON))
        ahead = [entry for entry in entries if entry.end > now]
        return [entry for entry in ahead if entry.start < tomorrow], (ahead[0] if ahead else None)

    found: MaintenanceAhead = DASHBOARD_MAINTENANCE.get_for_the_minute(compute, now=now)
    return found
