import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from auditlog.models import LogEntry
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_ipv46_address
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.accounts.models import ApiToken, User
from portal.accounts.roles import Role
from portal.accounts.selectors import login_lockouts
from portal.errors import ApplicationError, ConflictError, NotFoundError

TOKEN_BYTES = 30


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # shown to the caller once; never stored


def api_token_create(*, user: User, name: str, created_by: User | None) -> IssuedToken:
    name = name.strip()
    if not name:
        raise ApplicationError("Give the token a name that says what uses it.", field="name")
    if not user.is_active:
        raise ApplicationError(f"User {user.username} is inactive; activate it before issuing a token.", field="user")
    key = secrets.token_urlsafe(TOKEN_BYTES)
    try:
        with transaction.atomic():
            token = ApiToken.objects.create(
                user=user, name=name, prefix=key[:8], key_hash=token_hash(key), created_by=created_by
            )
    except IntegrityError as exc:
        raise ApplicationError(f"{user.username} already has an active token named {name!r}.", field="name") from exc
    return IssuedToken(token=token, key=key)


def api_token_revoke(*, token: ApiToken, now: datetime | None = None) -> ApiToken:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            raise ConflictError(f"Token {token.name!r} was already revoked.")
        token.revoked_at = now or timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_authenticate(*, key: str) -> ApiToken | None:
    """The active token for `key`, with its user, or None."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # Recorded at most once a minute so busy integrations do not write on every request; `update()` keeps
    # this bookkeeping out of the audit log on purpose.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


CONTACT_FIELDS = ("email", "phone", "chat_handle")


def user_update_contact(*, user: User, **changes: str) -> User:
    """Change a user's contact methods (email, phone for SMS, chat handle), validated by the model."""
    if unknown := set(changes) - set(CONTACT_FIELDS):
        raise ApplicationError(f"Not a contact method: {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        for field, value in changes.items():
            setattr(user, field, value.strip())
        try:
            user.full_clean(validate_unique=False, exclude=[f.name for f in User._meta.fields if f.name not in changes])
        except DjangoValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            raise ApplicationError(" ".join(messages), field=field) from exc
        user.save(update_fields=list(changes))
    return user


def _attempt_repr(attempt: AccessAttempt) -> str:
    return f"sign-ins as {attempt.username or '(no username)'} from {attempt.ip_address or '(unknown address)'}"


def login_lockout_audit(
    *, username: str | None, ip_address: str | None, user_agent: str, now: datetime
) -> LogEntry | None:
    """Record in the audit log that django-axes just locked out sign-ins, against the failed attempt that tipped it
    (None when axes kept no record of it)."""
    attempt = AccessAttempt.objects.filter(username=username, ip_address=ip_address, user_agent=user_agent).first()
    if attempt is None:
        return None
    locked = [
        lockout.label
        for lockout in login_lockouts(now=now)
        if all(getattr(attempt, field) == value for field, value in lockout.parameters.items())
    ]
    entry: LogEntry = LogEntry.objects.log_create(
        attempt,
        action=LogEntry.Action.UPDATE,
        object_repr=_attempt_repr(attempt),
        changes={
            "status": ["failing", "locked out"],
            "locked": "; ".join(locked),
            "failed sign-ins": attempt.failures_since_start,
        },
    )
    return entry


def login_lockout_release(*, actor: User, username: str = "", ip_address: str = "") -> int:
    """Unlock: forget every failed sign-in by `username`, from `ip_address`, or both, each one audited as done by
    `actor`. Returns how many attempt records were removed."""
    parameters = {field: value.strip() for field, value in (("username", username), ("ip_address", ip_address))}
    parameters = {field: value for field, value in parameters.items() if value}
    if not parameters:
        raise ApplicationError("Name the username or the address to unlock.", field="username")
    if "ip_address" in parameters:
        try:
            validate_ipv46_address(parameters["ip_address"])
        except DjangoValidationError as exc:
            raise ApplicationError(f"{parameters['ip_address']!r} is not an IP address.", field="ip_address") from exc
    with transaction.atomic():
        attempts = list(AccessAttempt.objects.select_for_update().filter(**parameters).order_by("pk"))
        if not attempts:
            described = ", ".join(f"{field} {value}" for field, value in parameters.items())
            raise NotFoundError(f"No failed sign-ins are recorded for {described}.")
        for attempt in attempts:
            LogEntry.objects.log_create(
                attempt,
                action=LogEntry.Action.DELETE,
                actor=actor,
                object_repr=_attempt_repr(attempt),
                changes={"status": ["locked out", "unlocked"], "failed sign-ins": [attempt.failures_since_start, 0]},
            )
        AccessAttempt.objects.filter(pk__in=[attempt.pk for attempt in attempts]).delete()
    return len(attempts)


def roles_for_idp_groups(idp_groups: set[str], mapping: Mapping[str, Iterable[str]]) -> set[str]:
    """The portal roles (group names) that the identity provider's groups grant, per OIDC_ROLE_GROUPS."""
    return {role for role, granting in mapping.items() if idp_groups & set(granting)}


def user_sync_roles(*, user: User, idp_groups: set[str]) -> User:
    """Make the user's role groups exactly what their IdP groups grant (on every SSO sign-in): roles are added and
    removed, other groups are left alone. Changes are audited (the User's `groups` are)."""
    wanted = roles_for_idp_groups(idp_groups, settings.OIDC_ROLE_GROUPS)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        held = {group.name: group for group in user.groups.filter(name__in=[role.value for role in Role])}
        if stale := [group for name, group in held.items() if name not in wanted]:
            user.groups.remove(*stale)
        if missing := wanted - set(held):
            user.groups.add(*Group.objects.filter(name__in=missing))
    return user
