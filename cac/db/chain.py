"""The audit log's hash chain: each event stores the SHA-256 of the one before it and its own,
computed over a canonical form of its fields, so an event edited, removed or inserted behind the
service's back breaks the chain at that point (``cac audit verify``).

A chain proves order and integrity only against what it is compared with: someone able to
rewrite the whole table could recompute every hash. ``cac audit verify`` prints the head hash;
keeping that value elsewhere (a ticket, a log shipper) anchors the chain up to it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64  # the "previous hash" of the first event


def canonical_time(moment: datetime) -> str:
    """UTC, microseconds, no offset: SQLite hands back naive UTC, PostgreSQL aware values."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def event_hash(previous: str, fields: Mapping[str, Any]) -> str:
    """The hash of one event: its predecessor's hash and its own fields, canonically written."""
    body = {
        "note_id": fields["note_id"],
        "action": fields["action"],
        "actor": fields["actor"],
        "suggestion_id": fields["suggestion_id"],
        "decision_id": fields["decision_id"],
        "details": fields["details"] or {},
        "request_id": fields["request_id"],
        "created_at": canonical_time(fields["created_at"]),
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{previous}\n{text}".encode()).hexdigest()
