"""Row locks for state changes: the rows are locked on their own, then read with their related rows.

Never `select_for_update()` together with `select_related()`. After waiting for a lock, PostgreSQL re-checks the
locked row's new version against the joined rows as the statement first saw them: when the row's foreign key changed
meanwhile (a concurrent severity change of the same incident), the join no longer matches and the row drops out of
the result (DoesNotExist, a 500, where the caller should have seen a 409). Reading after the lock is held also gives
the related rows as committed by whoever held it before.
"""

from typing import TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


def lock_rows(queryset: models.QuerySet[M]) -> models.QuerySet[M]:
    """Lock the rows `queryset` selects (its own table only, in its order), and return it to read them afterwards:
    rows that no longer match its filters once the lock is held are left out."""
    locking = queryset.select_related(None).select_for_update(of=("self",))
    return queryset.filter(pk__in=list(locking.values_list("pk", flat=True)))


def lock_row(queryset: models.QuerySet[M], pk: object) -> M:
    """The row `pk`, locked for the current transaction, read through `queryset` (DoesNotExist if it is gone)."""
    return lock_rows(queryset.filter(pk=pk)).get()
