from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Q, QuerySet, Sum
from django.utils import timezone

from portal.accounts.models import ApiToken, User
from portal.accounts.roles import Role, holders
from portal.core.derived_cache import DerivedCache

# Whom pickers offer for each role, kept: the incident page shows a commander picker and three role pickers of
# Responders. Dropped on any change to a user, their groups or a group (AccountsConfig.ready).
HOLDERS = DerivedCache("role-holders")


def holder_choices(role: Role) -> list[tuple[str, str]]:
    """(username, label) of `role`'s holders (`holders`), as a picker over them lists its options."""
    choices: list[tuple[str, str]] = HOLDERS.get_or_compute(
        role.value, lambda: ([(user.username, str(user)) for user in holders(role)], None), now=timezone.now()
    )
    return choices


def api_tokens(*, include_revoked: bool = True) -> QuerySet[ApiToken]:
    tokens = ApiToken.objects.select_related("user", "created_by").order_by("revoked_at", "-created_at")
    return tokens if include_revoked else tokens.filter(revoked_at__isnull=True)


@dataclass(frozen=True)
class Lockout:
    """Sign-ins refused for one of AXES_LOCKOUT_PARAMETERS' groups, e.g. {"username": "ada"}."""

    parameters: dict[str, str]
    failures: int
    last_failure_at: datetime
    ends_by: datetime  # at the latest: earlier failures may age out of the cool-off first

    @property
    def label(self) -> str:
        names = {"username": "username", "ip_address": "address", "user_agent": "browser"}
        return ", ".join(f"{names[field]} {value}" for field, value in self.parameters.items())


def login_lockouts(*, now: datetime) -> list[Lockout]:
    """The lockouts in force at `now`, as django-axes counts them: failures within the cool-off, summed over each
    lockout parameter group, at or over the limit. Newest first."""
    limit: int = settings.AXES_FAILURE_LIMIT
    cool_off: timedelta = settings.AXES_COOLOFF_TIME
    recent = AccessAttempt.objects.filter(attempt_time__gte=now - cool_off)
    lockouts = []
    for group in settings.AXES_LOCKOUT_PARAMETERS:
        fields = [group] if isinstance(group, str) else list(group)
        rows = (
            recent.exclude(**{f"{field}__isnull": True for field in fields})
            .values(*fields)
            .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
            .filter(failures__gte=limit)
        )
        lockouts += [
            Lockout(
                parameters={field: str(row[field]) for field in fields},
                failures=row["failures"],
                last_failure_at=row["last"],
                ends_by=row["last"] + cool_off,
            )
            for row in rows
        ]
    return sorted(lockouts, key=lambda lockout: lockout.last_failure_at, reverse=True)


def approvers(*, excluding: User) -> QuerySet[User]:
    """Who may approve what another person asked for: active Incident Commanders and Admins (superusers too), never
    the requester."""
    return (
        User.objects.filter(is_active=True)
        .filter(Q(groups__name__in=[Role.INCIDENT_COMMANDER, Role.ADMIN]) | Q(is_superuser=True))
        .exclude(pk=excluding.pk)
        .distinct()
    )
