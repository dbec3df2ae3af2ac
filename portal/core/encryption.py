"""Secrets at rest: Fernet with the keys of FIELD_ENCRYPTION_KEYS (the first encrypts, every one decrypts).

A stored value is `fernet:` and a Fernet token, so migrations and key rotation tell it from a value still in clear;
an empty value stays empty. Rows are rewritten with plain SQL: re-encrypting changes no secret, so it is not an
audited change, and reading through the model would refuse a value still in clear.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, models, transaction

if TYPE_CHECKING:
    from portal.core.fields import EncryptedFieldMixin

PREFIX = "fernet:"
BATCH_SIZE = 500


class EncryptionKeyError(ImproperlyConfigured):
    """A stored value no key in FIELD_ENCRYPTION_KEYS decrypts, or one still in clear."""


@lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: field encryption needs at least one Fernet key.")
    fernets = [Fernet(key) for key in keys]
    return MultiFernet(fernets), fernets[0]


def _keys() -> tuple[MultiFernet, Fernet]:
    return _fernets(tuple(settings.FIELD_ENCRYPTION_KEYS))


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def encrypt(plaintext: str) -> str:
    return PREFIX + _keys()[1].encrypt(plaintext.encode()).decode()


def decrypt(stored: str, *, what: str = "a value") -> str:
    if not is_encrypted(stored):
        raise EncryptionKeyError(
            f"{what} is stored in clear: run `manage.py rotate_encryption_keys` to encrypt what is left in clear."
        )
    try:
        return _keys()[0].decrypt(stored.removeprefix(PREFIX)).decode()
    except InvalidToken:
        raise EncryptionKeyError(
            f"No key in FIELD_ENCRYPTION_KEYS decrypts {what}: was a key dropped before `manage.py "
            "rotate_encryption_keys` had re-encrypted every row with the first one?"
        ) from None


def reencrypted(stored: str) -> str | None:
    """`stored` encrypted with the first key (a value in clear is encrypted); None when it already is."""
    if not is_encrypted(stored):
        return encrypt(stored)
    token = stored.removeprefix(PREFIX).encode()
    multi, primary = _keys()
    try:
        primary.decrypt(token)
    except InvalidToken:
        # MultiFernet.rotate keeps the token's timestamp; InvalidToken here means no key fits at all.
        return PREFIX + multi.rotate(token).decode()
    return None


def decrypted(stored: str) -> str | None:
    """`stored` in clear, for reverting to plain columns; None when it already is."""
    return decrypt(stored) if is_encrypted(stored) else None


@dataclass
class Tally:
    rows: int = 0
    current: int = 0  # already encrypted with the first key
    reencrypted: int = 0  # encrypted with an older key, now with the first
    encrypted: int = 0  # was in clear
    failures: list[str] = field(default_factory=list)

    def __iadd__(self, other: "Tally") -> "Tally":
        self.rows += other.rows
        self.current += other.current
        self.reencrypted += other.reencrypted
        self.encrypted += other.encrypted
        self.failures += other.failures
        return self

    def __str__(self) -> str:
        return (
            f"{self.rows} rows: {self.reencrypted} values re-encrypted, {self.encrypted} encrypted from clear, "
            f"{self.current} already current, {len(self.failures)} undecryptable"
        )


def encrypted_fields(model: type[models.Model]) -> list["EncryptedFieldMixin"]:
    from portal.core.fields import EncryptedFieldMixin  # the fields module imports this one

    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedFieldMixin)]


def rewrite_rows(
    model: type[models.Model],
    change: Callable[[str], str | None],
    *,
    using: str = "default",
    batch_size: int = BATCH_SIZE,
) -> Tally:
    """Apply `change` to every non-empty encrypted value of `model`, one transaction per batch of rows.

    Each value is written only if it is still what was read, so a row saved meanwhile (by the running portal, with
    the first key) keeps its new value. Values `change` cannot decrypt are left as they are and listed.
    """
    tally = Tally()
    columns = [f.column for f in encrypted_fields(model) if f.column is not None]
    if not columns:
        return tally
    connection = connections[using]
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column or "id")
    select = (
        f"SELECT {pk}, {', '.join(quote(c) for c in columns)} FROM {table} "  # noqa: S608 - quoted names only
        f"WHERE {pk} > %s ORDER BY {pk} LIMIT %s"
    )
    last_pk = 0  # the portal's primary keys are positive integers
    while True:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(select, [last_pk, batch_size])
            rows = cursor.fetchall()
            for row_pk, *values in rows:
                tally.rows += 1
                for column, value in zip(columns, values, strict=True):
                    if not value:
                        continue
                    try:
                        new = change(value)
                    except (EncryptionKeyError, InvalidToken):
                        tally.failures.append(f"{model._meta.label}(pk={row_pk}).{column}")
                        continue
                    if new is not None:
                        cursor.execute(
                            f"UPDATE {table} SET {quote(column)} = %s WHERE {pk} = %s AND {quote(column)} = %s",  # noqa: S608
                            [new, row_pk, value],
                        )
                    if new is None or cursor.rowcount == 0:
                        tally.current += 1
                    elif is_encrypted(value):
                        tally.reencrypted += 1
                    else:
                        tally.encrypted += 1
        if len(rows) < batch_size:
            return tally
        last_pk = rows[-1][0]


def rewrite_rows_or_fail(model: type[models.Model], change: Callable[[str], str | None], *, using: str) -> None:
    """For data migrations: every value changed, or none (the migration's transaction rolls back)."""
    if failures := rewrite_rows(model, change, using=using).failures:
        raise EncryptionKeyError(f"No key in FIELD_ENCRYPTION_KEYS decrypts {', '.join(failures)}.")
