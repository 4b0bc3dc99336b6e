"""Coders' decisions: appended, never changed. A suggestion's status follows its latest decision.

Two concurrent decisions on one suggestion cannot both become the active one: the writer locks
the suggestion row (``FOR UPDATE`` on PostgreSQL, the database write lock on SQLite) and the
(suggestion, sequence) pair is unique, so the loser gets a :class:`DecisionConflict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from cac.db import audit
from cac.db.models import Decision, Note, Suggestion
from cac.errors import ConflictError, NotFoundError


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    REPLACE = "replace"
    ADD = "add"


STATUS_AFTER = {
    Action.ACCEPT: "accepted",
    Action.REJECT: "rejected",
    Action.REPLACE: "replaced",
    Action.ADD: "accepted",
}


class DecisionConflict(ConflictError):
    """The suggestion already has a decision and the request did not ask to supersede it."""

    def __init__(self, message: str, current: Decision | None) -> None:
        super().__init__(message)
        self.current_decision_id = current.id if current is not None else None


@dataclass(frozen=True, slots=True)
class DecisionInput:
    """A validated decision. ``system``/``code`` are the replacement (replace) or the code (add)."""

    action: Action
    coder: str
    system: str | None = None
    code: str | None = None
    reason: str | None = None
    supersede: bool = False


@dataclass(frozen=True, slots=True)
class AddedCode:
    """A code a coder adds to a note, checked against the knowledge base by the caller."""

    system: str
    code: str
    description: str
    evidence: tuple[tuple[int, int], ...]
    demo: bool = False


def get_suggestion(session: Session, suggestion_id: int, *, lock: bool = False) -> Suggestion:
    """Raises: NotFoundError."""
    query = select(Suggestion).where(Suggestion.id == suggestion_id)
    found = session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFoundError(f"no suggestion with id {suggestion_id}")
    return found


def restored_rule(suggestion: Suggestion, action: str) -> str | None:
    """The convention rule a decision overrides, or None: accepting a suggestion that the
    conventions stage kept out of the shown list (``suppressed_by``) restores it."""
    if action == Action.ACCEPT and suggestion.suppressed_by:
        return str(suggestion.suppressed_by["rule"])
    return None


def latest(session: Session, suggestion_id: int) -> Decision | None:
    """The active decision of a suggestion: the one with the highest sequence."""
    return session.scalar(
        select(Decision)
        .where(Decision.suggestion_id == suggestion_id)
        .order_by(Decision.sequence.desc())
        .limit(1)
    )


def active_by_suggestion(session: Session, note_id: int) -> dict[int, Decision]:
    """The active decision of each decided suggestion of a note."""
    active: dict[int, Decision] = {}
    rows = session.scalars(
        select(Decision).where(Decision.note_id == note_id).order_by(Decision.sequence)
    )
    for decision in rows:
        active[decision.suggestion_id] = decision
    return active


def decide(
    session: Session, suggestion_id: int, decision: DecisionInput, request_id: str | None = None
) -> tuple[Decision, Suggestion]:
    """Append a decision and update the suggestion's status, in the session's transaction.

    Raises:
        NotFoundError: for an unknown suggestion.
        DecisionConflict: if the suggestion has a decision and ``supersede`` is not set.
    """
    suggestion = get_suggestion(session, suggestion_id, lock=True)
    current = latest(session, suggestion_id)
    if current is not None and not decision.supersede:
        raise DecisionConflict(
            f"suggestion {suggestion_id} already has a decision ({current.action} by "
            f'{current.coder}, decision {current.id}); send "supersede": true to replace it',
            current,
        )
    row = Decision(
        suggestion_id=suggestion_id,
        note_id=suggestion.note_id,
        sequence=(current.sequence + 1) if current is not None else 1,
        action=decision.action.value,
        system=decision.system,
        code=decision.code,
        reason=decision.reason,
        coder=decision.coder,
        supersedes_id=current.id if current is not None else None,
    )
    session.add(row)
    session.flush()
    suggestion.status = STATUS_AFTER[decision.action]
    details: dict[str, object] = {
        "action": decision.action.value,
        "system": suggestion.system,
        "code": suggestion.code,
    }
    if decision.action is Action.REPLACE:
        details["replacement"] = {"system": decision.system, "code": decision.code}
    if decision.reason is not None:
        details["reason"] = decision.reason
    rule = restored_rule(suggestion, decision.action)
    if rule is not None:
        details["restored_suppressed"] = rule
    if current is not None:
        details["supersedes"] = current.id
    audit.append(
        session,
        suggestion.note_id,
        audit.AuditAction.SUGGESTION_DECIDED,
        decision.coder,
        suggestion_id=suggestion_id,
        decision_id=row.id,
        details=details,
        request_id=request_id,
    )
    session.flush()
    return row, suggestion


def add_code(
    session: Session,
    note: Note,
    added: AddedCode,
    coder: str,
    reason: str | None,
    request_id: str | None = None,
) -> tuple[Suggestion, Decision]:
    """Add a coder's code to a note: a suggestion of origin ``coder`` with an ``add`` decision.

    Raises:
        ConflictError: if the note already has this code, not rejected or replaced.
    """
    existing = session.scalar(
        select(Suggestion).where(
            Suggestion.note_id == note.id,
            Suggestion.system == added.system,
            Suggestion.code == added.code,
            Suggestion.status.in_(("pending", "accepted")),
        )
    )
    if existing is not None:
        raise ConflictError(
            f"{added.code} is already on note {note.id} as suggestion {existing.id} "
            f"({existing.status}); decide on that suggestion instead"
        )
    last_rank = session.scalar(
        select(Suggestion.rank)
        .where(Suggestion.note_id == note.id)
        .order_by(Suggestion.rank.desc())
        .limit(1)
    )
    suggestion = Suggestion(
        note_id=note.id,
        rank=(last_rank + 1) if last_rank is not None else 0,
        system=added.system,
        code=added.code,
        description=added.description,
        confidence=None,
        evidence=[list(span) for span in added.evidence],
        assertion=None,
        demo=added.demo,
        needs_specificity=False,
        shown=True,
        origin="coder",
        model_version=None,
        status=STATUS_AFTER[Action.ADD],
    )
    session.add(suggestion)
    session.flush()
    decision = Decision(
        suggestion_id=suggestion.id,
        note_id=note.id,
        sequence=1,
        action=Action.ADD.value,
        system=added.system,
        code=added.code,
        reason=reason,
        coder=coder,
    )
    session.add(decision)
    session.flush()
    details: dict[str, object] = {
        "system": added.system,
        "code": added.code,
        "evidence": [list(span) for span in added.evidence],
    }
    if reason is not None:
        details["reason"] = reason
    audit.append(
        session,
        note.id,
        audit.AuditAction.CODE_ADDED,
        coder,
        suggestion_id=suggestion.id,
        decision_id=decision.id,
        details=details,
        request_id=request_id,
    )
    session.flush()
    return suggestion, decision


def export(session: Session, after: int, limit: int) -> list[tuple[Decision, Suggestion, Note]]:
    """Decisions with an id above ``after``, oldest first, with their suggestion and note."""
    rows = session.execute(
        select(Decision, Suggestion, Note)
        .join(Suggestion, Decision.suggestion_id == Suggestion.id)
        .join(Note, Decision.note_id == Note.id)
        .where(Decision.id > after)
        .order_by(Decision.id)
        .limit(limit)
    )
    return [(d, s, n) for d, s, n in rows]
