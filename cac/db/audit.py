"""The append-only history of each note. Events name ids, codes and actors, never note text."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cac.db.models import AuditEvent


class AuditAction(StrEnum):
    NOTE_CREATED = "note.created"
    NOTE_REPOSTED = "note.reposted"
    NOTE_CODED = "note.coded"
    SUGGESTION_DECIDED = "suggestion.decided"
    CODE_ADDED = "code.added"
    NOTE_TEXT_EXPORTED = "note.text_exported"
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
    """Add one event to the session's transaction."""
    event = AuditEvent(
        note_id=note_id,
        action=action.value,
        actor=actor,
        suggestion_id=suggestion_id,
        decision_id=decision_id,
        details=details or {},
        request_id=request_id,
    )
    session.add(event)
    return event


def history(session: Session, note_id: int) -> list[AuditEvent]:
    """Every event of a note, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.note_id == note_id).order_by(AuditEvent.id)
        )
    )
