"""Audit plumbing around django-auditlog.

Every entry is sealed into a hash chain as it is written (`seal_log_entry`, see `portal.core.services`), which
`manage.py audit_verify` checks.

Web and API changes get their actor and remote address from `AuditMiddleware`. Celery tasks act on
someone's behalf by wrapping their work in `acting_as(user_id)`:

    @shared_task
    def scale_deployment(run_id: int, requested_by_id: int) -> None:
        with acting_as(requested_by_id):
            action_run_execute(run_id=run_id)
"""

import contextlib
from collections.abc import Iterator

from auditlog.context import auditlog_value, set_actor
from auditlog.middleware import AuditlogMiddleware
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest

from portal.core.services import audit_chain_seal


def client_address(request: HttpRequest) -> str | None:
    """The client's address, for the audit log, sign-in lockouts and API throttling alike: X-Forwarded-For is
    trusted only when configured to be (behind our proxy)."""
    if settings.AUDIT_TRUST_X_FORWARDED_FOR:
        return AuditlogMiddleware._get_remote_addr(request)
    return request.META.get("REMOTE_ADDR")


class AuditMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware with the portal's idea of the client's address."""

    @staticmethod
    def _get_remote_addr(request: HttpRequest) -> str | None:
        return client_address(request)


def seal_log_entry(
    sender: type[LogEntry], instance: LogEntry, created: bool, raw: bool = False, **kwargs: object
) -> None:
    """post_save of LogEntry: seal each new entry in its own transaction. A signal because LogEntry is
    django-auditlog's model and this is the one hook every way of writing an entry passes (model changes,
    many-to-many changes, `log_create`). Raw saves (loaddata) bring their seals with them."""
    if created and not raw:
        audit_chain_seal(entry_id=instance.pk)


def bind_actor(user: object) -> None:
    """Name the actor of the current request's audit context, for users authenticated after the middleware ran
    (DRF token authentication)."""
    with contextlib.suppress(LookupError):
        auditlog_value.get()["actor"] = user


@contextlib.contextmanager
def acting_as(user_id: int | None, *, remote_addr: str | None = None) -> Iterator[None]:
    """Record audit entries made inside the block as done by `user_id` (None: by the system)."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id is not None else None
    with set_actor(user, remote_addr=remote_addr):
        yield


def describe_changes(changes: dict[str, object] | None) -> str:
    """One line for a LogEntry's changes; auditlog's own `changes_str` cannot render many-to-many changes."""
    parts = []
    for field, change in (changes or {}).items():
        if isinstance(change, dict) and change.get("type") == "m2m":
            objects = ", ".join(str(obj) for obj in change.get("objects", []))
            parts.append(f"{field}: {change.get('operation')} {objects}")
        elif isinstance(change, list | tuple) and len(change) == 2:
            parts.append(f"{field}: {change[0]} → {change[1]}")
        else:
            parts.append(f"{field}: {change}")
    return "; ".join(parts)
