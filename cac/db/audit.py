"""The append-only history of each note. Events name ids, codes and actors, never note text.

Events are hash-chained across the whole log (:mod:`cac.db.chain`): :func:`append` takes the
last event's hash under a lock (SQLite's write transactions are serial already; PostgreSQL takes
a transaction-scoped advisory lock), and :func:`verify` walks the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cac.db.chain import GENESIS, event_hash
from cac.db.models import AuditEvent, utcnow

_CHAIN_LOCK = 0x0CAC_A0D1  # PostgreSQL advisory lock key for appending to the chain
_VERIFY_BATCH = 1000


class AuditAction(StrEnum):
    NOTE_CREATED = "note.created"
    NOTE_REPOSTED = "note.reposted"
    NOTE_CODED = "note.coded"
    SUGGESTION_DECIDED = "suggestion.decided"
    CODE_ADDED = "code.added"
    NOTE_TEXT_EXPORTED = "note.text_exported"
    # a response carried the note's text (who read which version, through which route)
    NOTE_READ = "note.read"
    # the MS-DRG and HCCs before and after a decision or a principal change (cac.impact)
    IMPACT_RECOMPUTED = "impact.recomputed"
    PRINCIPAL_SET = "principal.set"


def append(
    session: Session,
    note_id: int,
    action: AuditAction,
    actor: str,
    *,
    suggestion_id: int | None = None,
    decision_id: int | None = None,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Add one event to the session's transaction, chained to the last one."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    previous = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    fields: dict[str, Any] = {
        "note_id": note_id,
        "action": action.value,
        "actor": actor,
        "suggestion_id": suggestion_id,
        "decision_id": decision_id,
        "details": details or {},
        "request_id": request_id,
        "created_at": utcnow(),
    }
    prev = previous or GENESIS
    event = AuditEvent(**fields, prev_hash=prev, hash=event_hash(prev, fields))
    session.add(event)
    session.flush()  # the next append in this transaction chains to this one
    return event


def history(session: Session, note_id: int) -> list[AuditEvent]:
    """Every event of a note, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.note_id == note_id).order_by(AuditEvent.id)
        )
    )


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What :func:`verify` found: events checked, the head hash, and the first broken link."""

    events: int
    head: str
    broken_at: int | None = None  # the id of the first event whose link does not hold
    reason: str | None = None


def verify(session: Session) -> ChainReport:
    """Walk the whole log in id order and check each event's links: its ``prev_hash`` is its
    predecessor's hash, and its ``hash`` is that of its own fields."""
    previous, count, after = GENESIS, 0, 0
    while True:
        batch = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.id > after)
                .order_by(AuditEvent.id)
                .limit(_VERIFY_BATCH)
            )
        )
        if not batch:
            return ChainReport(count, previous)
        for event in batch:
            if event.prev_hash != previous:
                why = "its previous-hash is not the hash of the event before it"
                return ChainReport(count, previous, event.id, why)
            fields = {
                "note_id": event.note_id,
                "action": event.action,
                "actor": event.actor,
                "suggestion_id": event.suggestion_id,
                "decision_id": event.decision_id,
                "details": event.details,
                "request_id": event.request_id,
                "created_at": event.created_at,
            }
            if event.hash != event_hash(previous, fields):
                return ChainReport(count, previous, event.id, "its fields do not match its hash")
            previous, count, after = event.hash, count + 1, event.id
        session.expunge_all()
