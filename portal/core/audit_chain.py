"""The audit hash chain's canonical form: what each link's SHA-256 covers.

A link's hash covers the entry's columns as the database returns them (so the hash made when the entry is written
and the one recomputed by verification see the same values), the actor recorded in the seal, the link's position
and the previous link's hash. Plain SHA-256, not an HMAC: anyone with read access can verify the chain without a
secret, and a key the application holds would not stop the application's own database role anyway. What keeps
history from being rewritten is the PostgreSQL trigger (the application's role cannot UPDATE or DELETE audit rows)
and the chain's head hash, which the scheduled verification writes to the logs, outside the database.

Changing anything here changes every hash: the form is versioned ("v") for that reason.
"""

import hashlib
import ipaddress
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

VERSION = 1
GENESIS = "0" * 64

# The LogEntry columns a link covers, read with `.values(*ENTRY_FIELDS)`. Not `actor`: deleting a user empties it
# (SET_NULL); the seal's copy of the actor is hashed instead.
ENTRY_FIELDS = (
    "id",
    "content_type__app_label",
    "content_type__model",
    "object_pk",
    "object_id",
    "object_repr",
    "serialized_data",
    "action",
    "changes_text",
    "changes",
    "cid",
    "remote_addr",
    "remote_port",
    "timestamp",
    "additional_data",
    "actor_email",
)


def link_hash(
    *, entry: Mapping[str, Any], position: int, actor_pk: int | None, actor_username: str, prev_hash: str
) -> str:
    """The SHA-256 (hex) of one link: `entry` is a `.values(*ENTRY_FIELDS)` row."""
    record = {
        "v": VERSION,
        "position": position,
        "entry_id": entry["id"],
        "actor": {"id": actor_pk, "username": actor_username, "email": entry["actor_email"]},
        "action": entry["action"],
        "content_type": f"{entry['content_type__app_label']}.{entry['content_type__model']}",
        "object_pk": entry["object_pk"],
        "object_id": entry["object_id"],
        "object_repr": entry["object_repr"],
        "changes": entry["changes"],
        "changes_text": entry["changes_text"],
        "serialized_data": entry["serialized_data"],
        "additional_data": entry["additional_data"],
        "cid": entry["cid"],
        "timestamp": _utc_iso(entry["timestamp"]),
        "remote_addr": _address(entry["remote_addr"]),
        "remote_port": entry["remote_port"],
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _utc_iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _address(value: str | None) -> str | None:
    """One spelling per address (PostgreSQL's inet and SQLite's text print IPv6 differently)."""
    if value is None:
        return None
    try:
        return ipaddress.ip_address(value).exploded
    except ValueError:
        return value
