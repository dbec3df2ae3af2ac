"""Audit plumbing around django-auditlog.

Every entry is sealed into a hash chain in the transaction that writes it (`seal_log_entry`, see
`portal.core.services`), which `manage.py audit_verify` checks. Services that write many entries run in
`sealed_together()`, which seals them all at its end.

Web and API changes get their actor and remote address from `AuditMiddleware`. Celery tasks act on
someone's behalf by wrapping their work in `acting_as(user_id)`:

    @shared_task
    def scale_deployment(run_id: int, requested_by_id: int) -> None:
        with acting_as(requested_by_id):
            action_run_execute(run_id=run_id)
"""

import contextlib
import contextvars
from collections.abc import Iterator

from auditlog.context import auditlog_value, set_actor
from auditlog.middleware import AuditlogMiddleware
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
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


# The entries written inside the innermost active `sealed_together` block, waiting to be sealed at its end.
_unsealed: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("audit_unsealed", default=None)


def seal_log_entry(
    sender: type[LogEntry], instance: LogEntry, created: bool, raw: bool = False, **kwargs: object
) -> None:
    """post_save of LogEntry: seal each new entry in its transaction, at once or at the end of `sealed_together`.
    A signal because LogEntry is django-auditlog's model and this is the one hook every way of writing an entry
    passes (model changes, many-to-many changes, `log_create`). Raw saves (loaddata) bring their seals with them."""
    if not created or raw:
        return
    unsealed = _unsealed.get()
    if unsealed is not None:
        unsealed.append(instance.pk)
    else:
        audit_chain_seal(entry_ids=[instance.pk])


@contextlib.contextmanager
def sealed_together(*, savepoint: bool = True) -> Iterator[None]:
    """`transaction.atomic()` whose audit entries are sealed together as it ends, in four queries in all instead
    of four per entry; as the outermost block, the chain's head is then locked only from there to the commit, so
    concurrent writers wait for each other briefly. Inside another such block it joins that one."""
    with transaction.atomic(savepoint=savepoint):
        if _unsealed.get() is not None:
            yield
            return
        token = _unsealed.set([])
        try:
            yield
            unsealed = _unsealed.get()
        finally:
            _unsealed.reset(token)
        if unsealed:
            audit_chain_seal(entry_ids=unsealed)


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
